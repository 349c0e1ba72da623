"""Code that talks to the running Linux kernel: build and run probes, read its own structures."""
