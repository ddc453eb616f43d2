//! Person names in free text. A name is only recognised by its context,
//! never by its shape alone (a capitalised word is as likely to be a class,
//! a logger or a product):
//!
//! - after an addressing word (`Dear`, `Hi`, `user`, `customer`, `Kunde`,
//!   `cliente`...) or a title (`Mr`, `Dr.`, `Sra.`, `Herr`, `M.`, `Mme`...);
//!   after the weak words `for`/`to`/`für`/`pour`/`para` only when at least
//!   two name parts follow;
//! - right before an e-mail address in `<...>` or `(...)`
//!   ([`before_email`]);
//! - CJK names of two to four Han characters next to a trigger (`用户`,
//!   `客户`, `ユーザー`, a suffix such as `様`, `さん`, `先生`).
//!
//! Name parts are an upper-case letter and lower-case letters (accented
//! Latin included), hyphenated (`Jean-Pierre`) or with an apostrophe
//! (`O'Brien`), joined by spaces and particles (`de`, `da`, `van`, `von`,
//! `van der`...). A part followed by code punctuation (`.x`, `(`, `::`, `_`)
//! is not a name, which keeps `for Foo.bar()` and logger names intact.
//!
//! Cost: the dispatcher calls [`gate`] after every ASCII word (two byte
//! reads) and looks at the word only when the next word starts upper-case
//! or non-ASCII.

use super::{at, Det, Sink};

/// Addressing words after which one name part is enough (lower-cased).
const STRONG: &[&[u8]] = &[
    b"dear",
    b"hi",
    b"hello",
    b"hey",
    b"hallo",
    b"liebe",
    b"lieber",
    b"bonjour",
    b"cher",
    b"hola",
    b"estimado",
    b"estimada",
    b"prezado",
    b"prezada",
    b"caro",
    b"cara",
    b"querido",
    b"querida",
    b"user",
    b"username",
    b"customer",
    b"client",
    b"cliente",
    b"usuario",
    b"kunde",
    b"kundin",
    b"benutzer",
    b"nutzer",
    b"utilisateur",
    b"member",
    b"patient",
    b"employee",
    b"contact",
    b"owner",
    b"recipient",
    b"signed",
    b"attn",
    b"name",
    b"nombre",
    b"nome",
    b"nom",
];

/// Common words after which two name parts are required.
const WEAK: &[&[u8]] = &[b"for", b"to", b"pour", b"para", b"by", b"von"];

/// Titles (case-sensitive), each optionally followed by `.`.
const TITLES: &[&[u8]] = &[
    b"Mr", b"Mrs", b"Ms", b"Miss", b"Mx", b"Dr", b"Prof", b"Sr", b"Sra", b"Srta", b"Herrn",
    b"Herr", b"Frau", b"Mme", b"Mlle", b"Dona", b"Dom", b"Sig", b"Signor", b"Signora",
];

/// Lower-case particles inside a name.
const PARTICLES: &[&[u8]] = &[
    b"de", b"da", b"do", b"dos", b"das", b"del", b"della", b"di", b"du", b"van", b"von", b"der",
    b"den", b"ter", b"ten", b"le", b"la", b"zu", b"y", b"e", b"bin", b"al", b"st.",
];

/// Capitalised words that follow addressing words in logs without being
/// names (`user Admin`, `to Google Cloud`, `for Python`). Compared
/// case-sensitively on the first part only for strong triggers, on every
/// part for weak ones.
const NOT_NAMES: &[&[u8]] = &[
    b"Admin",
    b"Administrator",
    b"Root",
    b"System",
    b"Guest",
    b"Anonymous",
    b"Service",
    b"Unknown",
    b"None",
    b"Null",
    b"Default",
    b"Test",
    b"Support",
    b"Team",
    b"All",
    b"Everyone",
    b"The",
    b"This",
    b"That",
    b"These",
    b"Those",
    b"Each",
    b"Every",
    b"Any",
    b"Some",
    b"No",
    b"New",
    b"Old",
    b"Our",
    b"Your",
    b"My",
    b"Its",
    b"Their",
    b"There",
    b"Here",
    b"Google",
    b"Cloud",
    b"Storage",
    b"Python",
    b"Django",
    b"Postgres",
    b"Redis",
    b"Kafka",
    b"Linux",
    b"Darwin",
    b"Windows",
    b"Docker",
    b"Kubernetes",
    b"Engine",
    b"Server",
    b"Client",
    b"Api",
    b"Error",
    b"Exception",
    b"Request",
    b"Response",
    b"License",
    b"Licence",
    b"User",
    b"Users",
    b"Customer",
    b"Account",
    b"Tenant",
    b"Project",
    b"Group",
    b"Role",
    b"Local",
    b"Remote",
    b"Upstream",
    b"Downstream",
    b"Production",
    b"Staging",
    b"Retry",
    b"Retrying",
    b"Pub",
    b"Sub",
    b"Big",
    b"Query",
    b"Compute",
    b"Logging",
    b"Monitoring",
    b"Billing",
    b"Auth",
    b"Login",
    b"Logout",
    b"Session",
    b"Token",
    b"Device",
    b"Seat",
    b"Pool",
    b"Worker",
    b"Node",
    b"Pod",
    b"Job",
    b"Task",
    b"Queue",
    b"Topic",
    b"Bucket",
    b"Table",
    b"Dataset",
    b"Disk",
    b"File",
    b"Path",
    b"Host",
    b"Port",
    b"Mac",
    b"Java",
    b"Go",
    b"Rust",
    b"Node.js",
    b"Chrome",
    b"Firefox",
    b"Safari",
    b"Edge",
    b"Android",
    b"Ios",
    b"Stripe",
    b"Slack",
    b"Github",
    b"Gitlab",
    b"Jira",
    b"Sentry",
    b"Celery",
    b"Gunicorn",
    b"Nginx",
    b"Envoy",
    b"Istio",
    b"Prometheus",
    b"Grafana",
    b"Vault",
    b"Terraform",
    b"Helm",
    b"Monday",
    b"Tuesday",
    b"Wednesday",
    b"Thursday",
    b"Friday",
    b"Saturday",
    b"Sunday",
    b"January",
    b"February",
    b"March",
    b"April",
    b"May",
    b"June",
    b"July",
    b"August",
    b"September",
    b"October",
    b"November",
    b"December",
    b"Free",
    b"Pro",
    b"Enterprise",
    b"Basic",
    b"Premium",
    b"Standard",
    b"Trial",
    b"Sir",
    b"Madam",
    b"Team",
    b"Hello",
    b"Dear",
    b"Hi",
    b"Welcome",
    b"World",
    b"Everybody",
    b"Folks",
    b"Again",
];

/// First characters of common Chinese (simplified and traditional) and
/// Japanese surnames. A Han run next to a trigger is only a name when it
/// starts with one, so `用户登录成功` ("user login succeeded") is not one.
const SURNAME_FIRST: &str = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤欧司诸上張劉陳楊黃趙吳孫馬羅鄭謝許韓馮鄧葉蘇呂盧鍾譚陸賈韋鄒龍賀顧龔錢嚴湯歐佐鈴伊渡山中小加吉松井木斎清森池橋阿岡長藤後近村遠青坂西原竹福太野杉大千平今河北宮内安工菊酒和久菅浅桜星岩秋";

/// Common two-character Japanese surnames: only after one of these (or a
/// one-character Chinese surname) may a space separate the given name
/// (`田中 太郎`, `王 芳`), so `王芳 登录` stays two words.
const JP_SURNAMES: &[&[u8]] = &[
    "田中".as_bytes(),
    "佐藤".as_bytes(),
    "鈴木".as_bytes(),
    "高橋".as_bytes(),
    "伊藤".as_bytes(),
    "渡辺".as_bytes(),
    "山本".as_bytes(),
    "中村".as_bytes(),
    "小林".as_bytes(),
    "加藤".as_bytes(),
    "吉田".as_bytes(),
    "山田".as_bytes(),
    "山口".as_bytes(),
    "松本".as_bytes(),
    "井上".as_bytes(),
    "木村".as_bytes(),
    "斎藤".as_bytes(),
    "清水".as_bytes(),
    "山崎".as_bytes(),
    "池田".as_bytes(),
    "橋本".as_bytes(),
    "阿部".as_bytes(),
    "石川".as_bytes(),
    "山下".as_bytes(),
    "中島".as_bytes(),
    "石井".as_bytes(),
    "小川".as_bytes(),
    "前田".as_bytes(),
    "岡田".as_bytes(),
    "藤田".as_bytes(),
    "後藤".as_bytes(),
    "近藤".as_bytes(),
    "村上".as_bytes(),
    "遠藤".as_bytes(),
    "青木".as_bytes(),
    "坂本".as_bytes(),
    "西村".as_bytes(),
    "福田".as_bytes(),
    "太田".as_bytes(),
    "藤井".as_bytes(),
];

/// Han triggers before a name (`用户张伟`, `客户：王芳`).
const CJK_BEFORE: &[&str] = &[
    "用户",
    "客户",
    "顾客",
    "会员",
    "联系人",
    "收件人",
    "姓名",
    "用戶",
    "客戶",
    "顧客",
    "會員",
    "聯絡人",
    "氏名",
    "担当者",
    "利用者",
    "宛先",
    "患者",
    "乘客",
    "学生",
    "员工",
    "員工",
];

/// Non-Han triggers before a name (`ユーザー 田中太郎`).
const CJK_BEFORE_KANA: &[&str] = &["ユーザー", "お客様", "お名前", "名前", "ユーザ"];

/// Han suffixes after a name (`张伟先生`, `田中様`).
const CJK_AFTER: &[&str] = &[
    "先生", "女士", "小姐", "老师", "老師", "经理", "經理", "様", "殿", "氏", "君",
];

/// Kana suffixes after a name (`佐藤さん`).
const CJK_AFTER_KANA: &[&str] = &["さん", "さま", "くん", "ちゃん"];

/// Cheap gate, called at the end `we` of every ASCII word that no other
/// detector took: the separator after the word is ` `, `. `, `, ` or `: `,
/// and the next word starts with an upper-case ASCII letter or a UTF-8
/// lead byte.
#[inline]
pub(crate) fn gate(b: &[u8], we: usize) -> bool {
    let k = match at(b, we) {
        b' ' => we + 1,
        // German `für`: the ASCII word is `f`.
        0xC3 if b[we..].starts_with("ür ".as_bytes()) => we + 4,
        b'.' | b',' | b':' if at(b, we + 1) == b' ' => we + 2,
        _ => return false,
    };
    let c = at(b, k);
    c.is_ascii_uppercase() || c >= 0xC3
}

/// The word `b[ws..we]` passed [`gate`]: if it is a trigger, pushes the name
/// after it and returns the name's end.
pub(crate) fn after_word(b: &[u8], ws: usize, we: usize, sink: &mut Sink<'_>) -> Option<usize> {
    if !sink.on(Det::Name) || we - ws > 11 {
        return None;
    }
    // `für` reaches here as the word `f` followed by `ür`.
    let fuer = &b[ws..we] == b"f" && b[we..].starts_with("ür".as_bytes());
    let we = if fuer { we + 3 } else { we };
    let word = &b[ws..we];
    let mut lower = [0u8; 11];
    for (d, c) in lower.iter_mut().zip(word) {
        *d = c.to_ascii_lowercase();
    }
    let lower = &lower[..word.len()];
    let sep = at(b, we);
    let min_parts = if TITLES.contains(&word) || (word == b"M" && sep == b'.') {
        1
    } else if sep == b'.' {
        // `... for. Next` ends a sentence.
        return None;
    } else if STRONG.contains(&lower) {
        1
    } else if (fuer || WEAK.contains(&lower)) && sep == b' ' {
        2
    } else {
        return None;
    };
    let mut start = if sep == b' ' { we + 1 } else { we + 2 };
    // `Herr Dr. Schmidt`, `Estimado Sr. Núñez`: skip a second title.
    if let Some(t) = TITLES.iter().find(|t| b[start..].starts_with(t)) {
        let k = start + t.len();
        let k = if at(b, k) == b'.' { k + 1 } else { k };
        if at(b, k) == b' ' {
            start = k + 1;
        }
    }
    if at(b, start) >= 0xE3 {
        if let Some((s, e)) = cjk_run_name(b, start) {
            sink.push(Det::Name, s, e, true);
            return Some(e);
        }
        if at(b, start) > 0xE9 || !is_latin_upper_start(b, start) {
            return None;
        }
    }
    let (end, parts) = name_run(b, start, min_parts > 1)?;
    if parts < min_parts {
        return None;
    }
    sink.push(Det::Name, start, end, true);
    Some(end)
}

/// A name right before an e-mail address: `Maria Silva <maria@x>`,
/// `"Olga Ivanova" <...>`, `张伟 (zhang@x)`. `open` is the index of the
/// `<` or `(`.
pub(crate) fn before_email(b: &[u8], open: usize, sink: &mut Sink<'_>) {
    if !sink.on(Det::Name) {
        return;
    }
    let mut e = open;
    while e > 0 && b[e - 1] == b' ' {
        e -= 1;
    }
    if e > 0 && b[e - 1] == b'"' {
        e -= 1;
    }
    if e == 0 || e == open && b[open] == b'(' {
        // `fn(user@x)` is a call, not `Name (user@x)`.
        return;
    }
    // Candidate region: letters, spaces, `-`, `'`, `.` (for `M.`), at most
    // 64 bytes and 6 words back.
    let mut s = e;
    let mut spaces = 0;
    while s > 0 && e - s < 64 {
        let c = b[s - 1];
        if c == b' ' {
            spaces += 1;
            if spaces > 5 {
                break;
            }
        } else if !(c.is_ascii_alphabetic() || c >= 0x80 || matches!(c, b'-' | b'\'' | b'.')) {
            break;
        }
        s -= 1;
    }
    // CJK: the Han run that ends at `e`.
    if at(b, e.saturating_sub(3)) >= 0xE3 && e >= 3 {
        let mut k = s;
        while k < e {
            if let Some((ns, ne)) = cjk_run_name(b, k) {
                if ne == e {
                    sink.push(Det::Name, ns, ne, true);
                    return;
                }
            }
            k += 1;
        }
        return;
    }
    // Latin: the earliest word start from which a name runs exactly to `e`.
    let mut k = s;
    while k < e {
        if (k == s || b[k - 1] == b' ') && is_latin_upper_start(b, k) {
            if let Some((end, _)) = name_run(b, k, false) {
                if end == e {
                    sink.push(Det::Name, k, end, true);
                    return;
                }
            }
        }
        k += 1;
    }
}

/// Decodes the char at `i` (the input came from a `str`).
#[inline]
fn char_at(b: &[u8], i: usize) -> Option<(char, usize)> {
    let c = *b.get(i)?;
    let len = match c {
        0..=0x7F => return Some((char::from(c), 1)),
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF7 => 4,
        _ => return None,
    };
    let s = std::str::from_utf8(b.get(i..i + len)?).ok()?;
    s.chars().next().map(|ch| (ch, len))
}

fn is_latin_upper_start(b: &[u8], i: usize) -> bool {
    char_at(b, i).is_some_and(|(c, _)| c.is_uppercase() && !is_han(c))
}

fn is_han(c: char) -> bool {
    matches!(c, '\u{4E00}'..='\u{9FFF}' | '\u{3400}'..='\u{4DBF}' | '\u{F900}'..='\u{FAFF}' | '々')
}

/// One name part at `i`: an upper-case letter then lower-case letters,
/// hyphenated parts and `O'`/`D'`/`Mc` forms included. Returns its end.
fn name_word(b: &[u8], i: usize) -> Option<usize> {
    let (c, l) = char_at(b, i)?;
    if !c.is_uppercase() || is_han(c) {
        return None;
    }
    let mut k = i + l;
    let mut lower = 0usize;
    while let Some((c, l)) = char_at(b, k) {
        if c.is_lowercase() {
            lower += 1;
            k += l;
        } else if matches!(c, '\'' | '’') && lower <= 1 && is_latin_upper_start(b, k + l) {
            // O'Brien, D'Angelo: the apostrophe and the capital after it.
            k += l;
            k += char_at(b, k).map_or(1, |(_, l2)| l2);
        } else if c == '-' && lower >= 1 && is_latin_upper_start(b, k + 1) {
            // Jean-Pierre, Müller-Lüdenscheidt
            let e = name_word(b, k + 1)?;
            return boundary_ok(b, e).then_some(e);
        } else if c.is_uppercase() && !is_han(c) && (b[i..k] == *b"Mc" || b[i..k] == *b"Mac") {
            k += l;
        } else {
            break;
        }
    }
    (lower >= 1 && boundary_ok(b, k)).then_some(k)
}

/// What follows a name part must not make it code: `Foo.bar`, `Foo(`,
/// `Foo::`, `Foo_`, `Foo1`, `Foo/`, `Foo=`, `Foo@`.
fn boundary_ok(b: &[u8], k: usize) -> bool {
    let c = at(b, k);
    if c.is_ascii_alphanumeric()
        || matches!(
            c,
            b'_' | b'(' | b'[' | b'{' | b'=' | b'/' | b'\\' | b'@' | b'$' | b'<' | b'>'
        )
    {
        return c == b'<' && at(b, k.saturating_sub(1)) == b' ';
    }
    match c {
        b'.' => !(at(b, k + 1).is_ascii_alphanumeric() || at(b, k + 1) == b'_'),
        b':' => at(b, k + 1) != b':',
        _ => true,
    }
}

fn stop_word(w: &[u8]) -> bool {
    NOT_NAMES.contains(&w)
}

/// Name parts from `i`, joined by single spaces and particles. With
/// `all_checked`, every part is checked against [`NOT_NAMES`] (weak
/// triggers); otherwise only the first. Returns (end, parts).
fn name_run(b: &[u8], i: usize, all_checked: bool) -> Option<(usize, usize)> {
    let mut end = name_word(b, i)?;
    if stop_word(&b[i..end]) {
        return None;
    }
    let mut parts = 1;
    while parts < 5 && at(b, end) == b' ' {
        let mut k = end + 1;
        // Particles: `de la`, `van der`.
        let mut n = 0;
        while n < 2 {
            let Some(p) = PARTICLES
                .iter()
                .find(|p| b[k..].starts_with(p) && at(b, k + p.len()) == b' ')
            else {
                break;
            };
            k += p.len() + 1;
            n += 1;
        }
        let Some(e) = name_word(b, k) else { break };
        if all_checked && stop_word(&b[k..e]) {
            return None;
        }
        end = e;
        parts += 1;
    }
    Some((end, parts))
}

/// A Han run starting at `i` (or after a trigger inside it): returns the
/// name's byte range when the run is 2..=4 characters (a single space
/// between surname and given name allowed), or the first three characters
/// of a longer run that follows a trigger.
fn cjk_run_name(b: &[u8], i: usize) -> Option<(usize, usize)> {
    let (c, _) = char_at(b, i)?;
    if !is_han(c) || !SURNAME_FIRST.contains(c) {
        return None;
    }
    let r = han_run(b, i, true);
    let n = r.n;
    if (2..=4).contains(&n) {
        return Some((i, r.ends[n - 1]));
    }
    if n > 4 && !r.spaced {
        return Some((i, r.ends[2]));
    }
    None
}

/// Char end offsets of a Han run (at most 8 chars), without allocating.
struct Run {
    ends: [usize; 8],
    n: usize,
    spaced: bool,
}

impl Run {
    fn ends(&self) -> &[usize] {
        &self.ends[..self.n]
    }
    fn last(&self) -> Option<usize> {
        self.ends().last().copied()
    }
}

/// The Han run at `i`; with `space`, one inner space after the first one
/// or two chars is allowed (`王 芳`).
fn han_run(b: &[u8], i: usize, space: bool) -> Run {
    let mut r = Run {
        ends: [0; 8],
        n: 0,
        spaced: false,
    };
    let mut k = i;
    while r.n < 8 {
        match char_at(b, k) {
            Some((c, l)) if is_han(c) => {
                k += l;
                r.ends[r.n] = k;
                r.n += 1;
            }
            Some((' ', 1))
                if space
                    && !r.spaced
                    && (r.n == 1 || (r.n == 2 && JP_SURNAMES.contains(&&b[i..k])))
                    && char_at(b, k + 1).is_some_and(|(c, _)| is_han(c)) =>
            {
                r.spaced = true;
                k += 1;
            }
            _ => break,
        }
    }
    r
}

fn starts_with_surname(b: &[u8], i: usize) -> bool {
    char_at(b, i).is_some_and(|(c, _)| SURNAME_FIRST.contains(c))
}

fn ends_with_any(hay: &[u8], list: &[&str]) -> bool {
    list.iter().any(|t| hay.ends_with(t.as_bytes()))
}

/// Called at a byte in `0xE3..=0xE9` (CJK lead bytes): checks the Han run
/// there for a trigger before, inside or after it. Returns where the scan
/// continues.
pub(crate) fn cjk_at(b: &[u8], i: usize, sink: &mut Sink<'_>) -> usize {
    let Some((c, l)) = char_at(b, i) else {
        return i + 1;
    };
    if !sink.on(Det::Name) || !is_han(c) {
        return i + l;
    }
    let re = han_run(b, i, false).last().unwrap_or(i + l);
    // Trigger inside the run: `用户张伟...`.
    for t in CJK_BEFORE {
        let tb = t.as_bytes();
        if b[i..re].starts_with(tb) {
            let ns = i + tb.len();
            if ns < re {
                if let Some((s, e)) = cjk_run_name(b, ns) {
                    sink.push(Det::Name, s, e, true);
                    return e.max(re);
                }
            } else {
                // `用户 张伟`, `客户：王芳`: the name is the next run.
                let mut k = re;
                while let Some((c, l)) = char_at(b, k) {
                    if matches!(c, ' ' | ':' | '：' | '「' | '“') && k - re < 6 {
                        k += l;
                    } else {
                        break;
                    }
                }
                if let Some((s, e)) = cjk_run_name(b, k) {
                    sink.push(Det::Name, s, e, true);
                    return e;
                }
            }
            return re;
        }
    }
    // Trigger before the run: kana triggers (`ユーザー 田中太郎`).
    let mut p = i;
    while p > 0 && matches!(b[p - 1], b' ' | b':') {
        p -= 1;
    }
    let before = &b[p.saturating_sub(15)..p];
    let before = before.strip_suffix("：".as_bytes()).unwrap_or(before);
    if ends_with_any(before, CJK_BEFORE_KANA) {
        if let Some((s, e)) = cjk_run_name(b, i) {
            sink.push(Det::Name, s, e, true);
            return e.max(re);
        }
    }
    // Suffix inside the run (`张伟先生`) or after it (`佐藤さん`).
    let sp = han_run(b, i, true);
    let run_end = sp.last().unwrap_or(re);
    // A name of two to four chars followed by a suffix inside the run
    // (`张伟先生您好`).
    for n in 2..=sp.n.min(4) {
        let name_end = sp.ends[n - 1];
        if name_end < run_end
            && CJK_AFTER
                .iter()
                .any(|t| b[name_end..].starts_with(t.as_bytes()))
            && starts_with_surname(b, i)
        {
            sink.push(Det::Name, i, name_end, true);
            return run_end;
        }
    }
    if CJK_AFTER_KANA
        .iter()
        .any(|t| b[run_end..].starts_with(t.as_bytes()))
    {
        let n = sp.n;
        if (2..=4).contains(&n) && starts_with_surname(b, i) {
            sink.push(Det::Name, i, run_end, true);
        } else if n > 4 && starts_with_surname(b, sp.ends[n - 5]) {
            sink.push(Det::Name, sp.ends[n - 5], run_end, true);
        }
        return run_end;
    }
    re
}
