//! A Kubernetes API emulator, served in-process as a tower `Service` and over HTTPS.
