"""`bridge image build`'s look at the base image: its Python and where packages go, as JSON."""

import json
import platform
import sys
import sysconfig

libc, libc_version = platform.libc_ver()
purelib = sysconfig.get_paths()["purelib"]
print(
    json.dumps(
        {
            "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
            "purelib": purelib,
            "on_path": purelib in sys.path,
            "machine": platform.machine(),
            "libc": libc,
            "libc_version": libc_version,
        }
    )
)
