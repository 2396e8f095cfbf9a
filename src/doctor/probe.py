"""`bridge doctor`'s end-to-end run: prints 1, then what the kernel says confines this process."""

import json

print(1)
fields = {}
with open("/proc/self/status") as status:
    for line in status:
        key, _, value = line.partition(":")
        if key in ("Uid", "Seccomp", "NoNewPrivs", "CapEff"):
            fields[key] = value.split()[0]
# Under gVisor this is gVisor's own kernel, not the host's.
with open("/proc/version") as version:
    fields["Kernel"] = version.read().strip()
print(json.dumps(fields))
