#[test]
fn finds_the_mounts_of_ublk_devices() {
    let mountinfo = "\
22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw
31 22 259:0 / /mnt/data rw,relatime shared:12 - ext4 /dev/ublkb0 rw
32 22 259:1 / /mnt/with\\040space rw - xfs /dev/ublkb12 rw
33 22 0:5 / /dev rw - devtmpfs udev rw
34 31 259:0 /sub /srv/bind rw - ext4 /dev/ublkb0 rw
";
    assert_eq!(
        ublk_mount_points(mountinfo),
        ["/mnt/data", "/mnt/with space", "/srv/bind"]
    );
    assert!(ublk_mount_points("garbage\n\n - \n").is_empty());
}

use super::*;

#[test]
fn startup_reports() {
    assert_eq!(
        read_startup_report(&5u64.to_ne_bytes()[..]),
        StartupReport::Live(4)
    );
    assert_eq!(
        read_startup_report(&1u64.to_ne_bytes()[..]),
        StartupReport::Live(0)
    );
    assert_eq!(
        read_startup_report(&notify::FAILED.to_ne_bytes()[..]),
        StartupReport::Failed
    );
    assert_eq!(
        read_startup_report(&0u64.to_ne_bytes()[..]),
        StartupReport::Failed
    );
    assert_eq!(
        read_startup_report(&u64::MAX.to_ne_bytes()[..]),
        StartupReport::Failed
    );
    assert_eq!(read_startup_report(&[1u8, 0, 0][..]), StartupReport::Silent);
    assert_eq!(read_startup_report(&[][..]), StartupReport::Silent);
}

#[test]
fn this_thread_runs_somewhere() {
    let tid = nix::unistd::gettid().as_raw();
    assert!(!thread_cpus(tid).is_empty());
}
