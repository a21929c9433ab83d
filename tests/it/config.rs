//! `config.example.toml` documents every setting with its default.

use topup::config::Settings;

fn example() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.toml")).unwrap()
}

#[test]
fn the_example_config_states_the_embedded_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, example()).unwrap();
    let loaded = Settings::load(Some(&path)).unwrap();
    assert_eq!(format!("{loaded:?}"), format!("{:?}", Settings::default()));
}

#[test]
fn every_commented_optional_setting_in_the_example_is_a_real_key() {
    // Uncomment `# key = value` and `# [section]` lines: the result must still load
    // (unknown keys are refused), so the example names no setting that does not exist.
    let mut text = String::new();
    for line in example().lines() {
        let t = line.trim_start();
        let uncomment = t.strip_prefix("# ").filter(|rest| {
            rest.starts_with('[')
                || rest
                    .split_once(" = ")
                    .is_some_and(|(k, _)| !k.contains(' '))
        });
        text.push_str(uncomment.unwrap_or(line));
        text.push('\n');
    }
    assert!(
        text.contains("\n[mail.imap]\n") && text.contains("\n[mail.smtp]\n"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("full.toml");
    std::fs::write(&path, &text).unwrap();
    let s = Settings::load(Some(&path)).unwrap();
    assert!(s.mail.imap.is_some() && s.mail.smtp.is_some() && s.mail.templates_dir.is_some());
}

#[test]
fn environment_variables_override_the_file() {
    // figment reads the process environment; use a key no other test sets.
    // SAFETY of set_var: this test binary's other tests do not read this variable.
    unsafe { std::env::set_var("TOPUP__DESK__SELLER_NAME", "PT Dari Env") };
    let s = Settings::load(None).unwrap();
    unsafe { std::env::remove_var("TOPUP__DESK__SELLER_NAME") };
    assert_eq!(s.desk.seller_name, "PT Dari Env");
}
