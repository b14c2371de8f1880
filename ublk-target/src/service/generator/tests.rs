use super::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "ublk-target-generator-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        for sub in ["etc", "units", "out"] {
            fs::create_dir_all(dir.join(sub)).unwrap();
        }
        Scratch(dir)
    }

    fn config(&self, name: &str, text: &str) {
        let path = self.0.join("etc").join(name);
        fs::write(&path, text).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn generate(&self) -> Result<(), GeneratorError> {
        generate(
            &self.0.join("etc"),
            &self.0.join("out"),
            &[self.0.join("missing"), self.0.join("units")],
        )
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[test]
fn instance_names_escape_like_systemd_escape() {
    assert_eq!(escape_instance(b"disk1"), "disk1");
    assert_eq!(escape_instance(b"db-2"), "db\\x2d2");
    assert_eq!(escape_instance(b"a.b_c:d"), "a.b_c:d");
    assert_eq!(escape_instance(b".hidden"), "\\x2ehidden");
    assert_eq!(escape_instance(b"a b/c"), "a\\x20b-c");
    assert_eq!(escape_instance("é".as_bytes()), "\\xc3\\xa9");
}

#[test]
fn automatic_devices_become_wanted_instances() {
    let scratch = Scratch::new("automatic");
    fs::write(scratch.0.join("units").join(TEMPLATE_UNIT), "").unwrap();
    fs::write(scratch.0.join("units").join(TARGET_UNIT), "").unwrap();
    scratch.config("defaults.toml", "startup = \"automatic\"\n");
    scratch.config(
        "db-1.toml",
        "url = \"iscsi://h/iqn.x:y/0\"\nstartup = \"automatic\"\n",
    );
    scratch.config("manual.toml", "url = \"iscsi://h/iqn.x:y/1\"\n");
    scratch.config(
        "broken.toml",
        "url = \"iscsi://h/iqn.x:y/2\"\nstartup = 3\n",
    );
    scratch.generate().unwrap();
    let wants = scratch.0.join("out").join("ublk-cxgb3i.target.wants");
    let links: Vec<String> = fs::read_dir(&wants)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(links, ["ublk-cxgb3i@db\\x2d1.service"]);
    assert_eq!(
        fs::read_link(wants.join(&links[0])).unwrap(),
        scratch.0.join("units").join(TEMPLATE_UNIT)
    );
    assert_eq!(
        fs::read_link(
            scratch
                .0
                .join("out/remote-fs.target.wants")
                .join(TARGET_UNIT)
        )
        .unwrap(),
        scratch.0.join("units").join(TARGET_UNIT)
    );
    // A second run (daemon-reload) finds its links in place.
    scratch.generate().unwrap();
}

#[test]
fn no_automatic_device_writes_nothing() {
    let scratch = Scratch::new("manual");
    scratch.config("manual.toml", "url = \"iscsi://h/iqn.x:y/1\"\n");
    scratch.generate().unwrap();
    assert_eq!(fs::read_dir(scratch.0.join("out")).unwrap().count(), 0);
}

#[test]
fn a_missing_template_is_an_error_naming_where_it_looked() {
    let scratch = Scratch::new("notemplate");
    scratch.config(
        "a.toml",
        "url = \"iscsi://h/iqn.x:y/0\"\nstartup = \"automatic\"\n",
    );
    let error = scratch.generate().unwrap_err().to_string();
    assert!(
        error.contains("ublk-cxgb3i@.service is in none of"),
        "{error}"
    );
    assert!(error.contains("/units"), "{error}");
}
