#!/usr/bin/env python3
"""Regenerates the small real-shaped fixtures under fixtures/.

Deterministic (fixed seed): rerunning produces identical files. The shapes
follow the license API entry in shared DESIGN.md: Django apps writing Cloud
Logging structured JSON to stdout, framed by containerd (CRI) on GKE.
"""
import json
import os
import random
from datetime import datetime, timedelta, timezone

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures")
rng = random.Random(20251130)
BASE = datetime(2025, 11, 30, 12, 34, 56, 789012, tzinfo=timezone.utc)

API = "license-api-7d8f9c6b4-xk9m2_coditect_django-3f2a9c1d8e7b6a5f4e3d2c1b0a9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b2a19.log"
WORKER = "license-worker-5c9d7f8b6-p2q4r_coditect_worker-9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b.log"


def uuid():
    return "%08x-%04x-4%03x-a%03x-%012x" % (
        rng.getrandbits(32), rng.getrandbits(16), rng.getrandbits(12), rng.getrandbits(12), rng.getrandbits(48))


def cri_time(i):
    t = BASE + timedelta(milliseconds=137 * i)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%09dZ" % (t.microsecond * 1000 + i % 1000)


def app_time(i):
    t = BASE + timedelta(milliseconds=137 * i)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)


def trace():
    return "projects/coditect-cloud-infra/traces/%032x" % rng.getrandbits(128)


def api_entry(i):
    kind = rng.random()
    user, tenant = uuid(), uuid()
    ip = "203.0.113.%d" % rng.randint(1, 254)
    hw = "sha256:%064x" % rng.getrandbits(256)
    key = "CODITECT-%04X-%04X-%04X-%04X" % tuple(rng.getrandbits(16) for _ in range(4))
    ua = "CODITECT/1.%d.0 (Linux; Python 3.11)" % rng.randint(0, 9)
    if kind < 0.35:
        return {"severity": "INFO", "timestamp": app_time(i), "message": "License acquisition request",
                "user_id": user, "tenant_id": tenant, "license_key": key, "hardware_id": hw,
                "ip_address": ip, "user_agent": ua, "logging.googleapis.com/trace": trace()}
    if kind < 0.75:
        status = rng.choice([200, 200, 200, 201, 204, 400, 403, 404, 409, 500, 503])
        latency = "%.3fs" % rng.choice([0.012, 0.048, 0.153, 0.27, 0.9, 1.7, 3.2])
        sev = "ERROR" if status >= 500 else ("WARNING" if status >= 400 else "INFO")
        e = {"severity": sev, "timestamp": app_time(i),
             "message": "%s /api/v1/licenses/acquire %d" % (rng.choice(["POST", "GET"]), status),
             "httpRequest": {"requestMethod": "POST", "requestUrl": "/api/v1/licenses/acquire",
                             "status": status, "latency": latency, "remoteIp": ip, "userAgent": ua,
                             "responseSize": str(rng.randint(80, 4000))},
             "user_id": user, "tenant_id": tenant, "request_id": uuid(),
             "logging.googleapis.com/trace": trace(), "logging.googleapis.com/spanId": "%016x" % rng.getrandbits(64)}
        if status in (403, 409):
            e["reason"] = rng.choice(["seat_limit_reached", "license_expired", "hardware_mismatch"])
            e["message"] = "License acquisition failed"
        return e
    if kind < 0.85:
        return {"severity": "INFO", "timestamp": app_time(i), "message": "User signed in",
                "user_email": "user%d+lic@example.com" % rng.randint(1, 999), "user_id": user,
                "ip_address": ip, "device": {"serial_number": "C02%07X" % rng.getrandbits(28),
                                             "mac_address": "3c:22:fb:%02x:%02x:%02x" % (rng.getrandbits(8), rng.getrandbits(8), rng.getrandbits(8)),
                                             "os": "macOS 14.1"}}
    if kind < 0.93:
        return {"severity": "DEBUG", "timestamp": app_time(i), "message": "cache lookup", "key": "tenant:%s" % tenant, "hit": rng.random() < 0.5}
    return {"severity": "ERROR", "timestamp": app_time(i), "message": "Unhandled exception in license validation",
            "exception": "Traceback (most recent call last):\n  File \"/app/licenses/views.py\", line 88, in acquire\n    seat = allocate(tenant)\nValueError: no seat for user %s from %s" % (user, ip),
            "user_id": user, "logging.googleapis.com/sourceLocation": {"file": "licenses/views.py", "line": "88", "function": "acquire"}}


def write_api():
    lines = []
    for i in range(60):
        e = json.dumps(api_entry(i), separators=(",", ":")).encode()
        lines.append(b"%s stdout F %s" % (cri_time(i).encode(), e))
    # A long entry split by the runtime into partial lines (P P F).
    big = json.dumps({"severity": "INFO", "timestamp": app_time(61), "message": "License report generated",
                      "report": "x" * 40000, "tenant_id": uuid()}, separators=(",", ":")).encode()
    parts = [big[:16384], big[16384:32768], big[32768:]]
    t = cri_time(61).encode()
    lines.append(b"%s stdout P %s" % (t, parts[0]))
    lines.append(b"%s stdout P %s" % (t, parts[1]))
    lines.append(b"%s stdout F %s" % (t, parts[2]))
    # Malformed JSON (truncated by a crashing process).
    lines.append(b'%s stdout F {"severity":"INFO","message":"License acquisition request","user_id":"' % cri_time(62).encode())
    # Invalid UTF-8 in a plain-text stderr line.
    lines.append(b"%s stderr F worker: bad byte \xff\xfe in header from 198.51.100.23" % cri_time(63).encode())
    # A line over the 256 KiB limit.
    lines.append(b'%s stdout F {"severity":"INFO","message":"dump","blob":"%s"}' % (cri_time(64).encode(), b"A" * (270 * 1024)))
    # Plain-text stderr lines (Django's dev server style).
    lines.append(b"%s stderr F [30/Nov/2025 12:35:10] \"GET /healthz HTTP/1.1\" 200 2" % cri_time(65).encode())
    for i in range(66, 80):
        e = json.dumps(api_entry(i), separators=(",", ":")).encode()
        lines.append(b"%s stdout F %s" % (cri_time(i).encode(), e))
    with open(os.path.join(ROOT, "containers", API), "wb") as f:
        f.write(b"\n".join(lines) + b"\n")


def write_worker():
    lines = []
    for i in range(40):
        r = rng.random()
        if r < 0.6:
            e = {"severity": "INFO", "timestamp": app_time(i), "message": "Processed license sync job",
                 "job_id": uuid(), "tenant_id": uuid(), "duration_ms": rng.randint(3, 900)}
        elif r < 0.8:
            e = {"severity": "WARNING", "timestamp": app_time(i), "message": "Retrying hardware attestation",
                 "hardware_id": "sha256:%064x" % rng.getrandbits(256), "attempt": rng.randint(1, 5)}
        else:
            e = {"severity": "ERROR", "timestamp": app_time(i), "message": "License acquisition failed",
                 "reason": rng.choice(["seat_limit_reached", "license_expired"]), "user_email": "ops%d@example.org" % i}
        lines.append(b"%s stdout F %s" % (cri_time(i).encode(), json.dumps(e, separators=(",", ":")).encode()))
    with open(os.path.join(ROOT, "containers", WORKER), "wb") as f:
        f.write(b"\n".join(lines) + b"\n")


def write_docker():
    name = "license-api-7d8f9c6b4-abcde_coditect_django-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0.log"
    lines = []
    for i in range(20):
        e = json.dumps(api_entry(100 + i), separators=(",", ":"))
        lines.append(json.dumps({"log": e + "\n", "stream": "stdout", "time": cri_time(100 + i)}, separators=(",", ":")))
    # A docker partial line (split at 16 KiB: no trailing newline on the first part).
    big = json.dumps({"severity": "INFO", "message": "big", "blob": "y" * 20000}, separators=(",", ":"))
    lines.append(json.dumps({"log": big[:16384], "stream": "stdout", "time": cri_time(121)}))
    lines.append(json.dumps({"log": big[16384:] + "\n", "stream": "stdout", "time": cri_time(121)}))
    lines.append(json.dumps({"log": "plain text from stderr\n", "stream": "stderr", "time": cri_time(122)}))
    with open(os.path.join(ROOT, "docker", name), "w") as f:
        f.write("\n".join(lines) + "\n")


def write_ndjson():
    with open(os.path.join(ROOT, "ndjson", "license-api.ndjson"), "w") as f:
        for i in range(30):
            f.write(json.dumps(api_entry(200 + i), separators=(",", ":")) + "\n")
    # The DESIGN.md example, as Cloud Logging stores it (already a LogEntry).
    entry = {"severity": "INFO", "timestamp": "2025-11-30T12:34:56.789Z", "insertId": "design-example-1",
             "logName": "projects/coditect-cloud-infra/logs/stdout",
             "resource": {"type": "k8s_container", "labels": {"project_id": "coditect-cloud-infra",
                                                               "cluster_name": "production-gke-cluster", "namespace_name": "coditect",
                                                               "pod_name": "license-api-7d8f9c6b4-xk9m2", "container_name": "django",
                                                               "location": "us-central1"}},
             "jsonPayload": {"message": "License acquisition request", "user_id": "550e8400-e29b-41d4-a716-446655440000",
                             "tenant_id": "660e8400-e29b-41d4-a716-446655440001", "license_key": "CODITECT-XXXX-XXXX-XXXX-XXXX",
                             "hardware_id": "sha256:abc123", "ip_address": "203.0.113.42",
                             "user_agent": "CODITECT/1.0.0 (Linux; Python 3.11)"}}
    with open(os.path.join(ROOT, "ndjson", "log-entries.ndjson"), "w") as f:
        f.write(json.dumps(entry, separators=(",", ":")) + "\n")


write_api()
write_worker()
write_docker()
write_ndjson()
print("fixtures written under", os.path.normpath(ROOT))
