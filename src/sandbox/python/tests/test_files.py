"""Files back and files in (PROTOCOL.md §2.2, §5.1): what the runtime sends as ``attach`` requests, and how it
unpacks the inputs' tar. Each test runs the real runtime in a subprocess, in a directory of its own (its
``out/`` and ``in/``), with the test as the host."""

import base64
import io
import os
import tarfile
import tempfile
import unittest

from .test_runtime import payload_for, run_payload, run_sandbox

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 24


class AttachHost:
    """Accepts every file, as the bridge would within its limits; records the requests."""

    def __init__(self):
        self.attached = []

    def answer(self, method, params):
        if method != "attach":
            return {"ok": False, "error": f"unexpected {method}", "kind": "error"}
        self.attached.append(params)
        if "data" not in params:
            return {"ok": True, "result": {"attached": False, "name": params["name"], "reason": "too big"}}
        return {"ok": True, "result": {"attached": True, "name": params["name"], "mimeType": "x/y"}}

    def files(self):
        """{name: bytes, or the size for a file sent without its bytes}."""
        return {p["name"]: base64.b64decode(p["data"]) if "data" in p else p["size"] for p in self.attached}


class FilesBackTests(unittest.TestCase):
    def run_in_dir(self, code, host, **run):
        with tempfile.TemporaryDirectory() as cwd:
            return run_sandbox(code, host=host, cwd=cwd, **run), cwd

    def test_files_left_in_out_go_back_in_order_and_links_do_not(self):
        code = (
            "import os\n"
            "print(sorted(os.listdir('.')))\n"
            "os.mkdir('out')\n"
            "open('out/b.csv', 'w').write('a,b\\n')\n"
            "os.makedirs('out/plots')\n"
            f"open('out/plots/p.png', 'wb').write({PNG!r})\n"
            "os.symlink('/etc/passwd', 'out/link')\n"
            "os.mkfifo('out/fifo')\n"
        )
        host = AttachHost()
        r, _ = self.run_in_dir(code, host)
        # The working directory starts empty: the code makes out/.
        self.assertEqual((r.stdout, r.stderr, r.exit), ("[]\n", "", 0))
        self.assertEqual(list(host.files().items()), [("b.csv", b"a,b\n"), ("plots/p.png", PNG)])

    def test_attach_and_show_send_now_and_are_not_sent_again(self):
        code = (
            "class Figure:\n"
            "    number = 3\n"
            "    def savefig(self, buffer, **options):\n"
            "        assert options['format'] == 'png'\n"
            f"        buffer.write({PNG!r})\n"
            "class Axes:\n"
            "    figure = Figure()\n"
            "print(runtime.show(Axes()))\n"
            "print(runtime.show(Figure(), name='named.png')['name'])\n"
            "import os\nos.mkdir('out')\nopen('out/kept.txt', 'w').write('k')\n"
            "print(runtime.attach('out/kept.txt')['name'])\n"
            "print(runtime.attach(b'raw', name='raw.bin')['attached'])\n"
            "try:\n    runtime.attach(b'raw')\nexcept ValueError as e:\n    print(e)\n"
            "try:\n    runtime.show(object())\nexcept TypeError as e:\n    print(e)\n"
            "try:\n    runtime.show()\nexcept ValueError as e:\n    print(e)\n"
        )
        host = AttachHost()
        r, _ = self.run_in_dir(code, host)
        self.assertEqual(
            r.stdout.splitlines(),
            [
                "{'attached': True, 'name': 'figure-3.png', 'mimeType': 'x/y'}",
                "named.png",
                "kept.txt",
                "True",
                "runtime.attach(data, name): bytes need a name",
                "runtime.show() takes a matplotlib figure or axes, or a PIL image, not object",
                "runtime.show(): no figure given, and no matplotlib figure is open",
            ],
        )
        # kept.txt was attached by the code, unchanged since: the end of the run does not send it again.
        names = [p["name"] for p in host.attached]
        self.assertEqual(names, ["figure-3.png", "named.png", "kept.txt", "raw.bin"])

    def test_files_over_the_hosts_limits_go_as_their_size(self):
        code = (
            "import os\nos.mkdir('out')\n"
            "open('out/a.txt', 'w').write('a' * 10)\n"
            "open('out/b.txt', 'w').write('b' * 100)\n"
            "open('out/c.txt', 'w').write('c' * 10)\n"
            "open('out/d.txt', 'w').write('d' * 10)\n"
        )
        host = AttachHost()
        r, _ = self.run_in_dir(code, host, attach={"max_file": 50, "max_total": 1000, "max_files": 2})
        self.assertEqual(r.exit, 0)
        self.assertEqual(host.files(), {"a.txt": b"a" * 10, "b.txt": 100, "c.txt": b"c" * 10, "d.txt": 10})

    def test_a_file_too_large_for_a_frame_goes_as_its_size(self):
        code = "import os\nos.mkdir('out')\nopen('out/big.bin', 'wb').write(b'x' * 20000)\n"
        host = AttachHost()
        r, _ = self.run_in_dir(code, host, max_frame=8192, attach={"max_file": 1 << 20})
        self.assertEqual(r.exit, 0)
        self.assertEqual(host.files(), {"big.bin": 20000})

    def test_a_refusal_is_a_note_and_the_run_goes_on(self):
        class Refusing(AttachHost):
            def answer(self, method, params):
                self.attached.append(params)
                return {"ok": False, "error": "attach: the name 'x' has control characters", "kind": "error"}

        code = (
            "import os\nos.mkdir('out')\n"
            "open('out/one', 'w').write('1')\nopen('out/two', 'w').write('2')\nprint('done')\n"
        )
        r, _ = self.run_in_dir(code, Refusing())
        self.assertEqual((r.stdout, r.exit), ("done\n", 0))
        self.assertEqual(
            r.stderr,
            "mcp-bridge: out/one was not attached: attach: the name 'x' has control characters\n"
            "mcp-bridge: out/two was not attached: attach: the name 'x' has control characters\n",
        )

    def test_files_written_before_an_exception_still_go_back(self):
        host = AttachHost()
        code = "import os\nos.mkdir('out')\nopen('out/partial.csv', 'w').write('x')\n1 / 0\n"
        r, _ = self.run_in_dir(code, host)
        self.assertEqual(r.exit, 1)
        self.assertIn("ZeroDivisionError", r.stderr)
        self.assertEqual(host.files(), {"partial.csv": b"x"})


def archive(entries):
    """A tar as the host builds it: (path, data or None for a directory, mode)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path, data, mode in entries:
            info = tarfile.TarInfo(path)
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


class FilesInTests(unittest.TestCase):
    def test_the_inputs_are_unpacked_read_only_before_the_code_runs(self):
        tar = archive(
            [
                ("sales", None, 0o555),
                ("sales/q1.csv", b"q,1\n", 0o444),
                ("sales/sub", None, 0o555),
                ("sales/sub/x.txt", b"x", 0o444),
            ]
        )
        code = (
            "import os, stat\n"
            "for d, _, files in sorted(os.walk('in')):\n"
            "    print(d, oct(stat.S_IMODE(os.stat(d).st_mode)))\n"
            "    for f in sorted(files):\n"
            "        p = os.path.join(d, f)\n"
            "        print(p, oct(stat.S_IMODE(os.stat(p).st_mode)), open(p).read().strip())\n"
        )
        with tempfile.TemporaryDirectory() as cwd:
            r = run_payload(payload_for(code, inputs=len(tar)) + tar, cwd=cwd)
            # Read-only directories cannot be emptied by the TemporaryDirectory cleanup.
            for d, _, _ in os.walk(cwd):
                os.chmod(d, 0o755)
        self.assertEqual((r.stderr, r.exit), ("", 0))
        self.assertEqual(
            r.stdout.splitlines(),
            [
                "in 0o755",
                "in/sales 0o555",
                "in/sales/q1.csv 0o444 q,1",
                "in/sales/sub 0o555",
                "in/sales/sub/x.txt 0o444 x",
            ],
        )

    def test_an_archive_that_cannot_be_unpacked_is_a_note_and_the_code_still_runs(self):
        tar = b"\0" * 100 + b"not a tar" * 100
        with tempfile.TemporaryDirectory() as cwd:
            r = run_payload(payload_for("print('ran')", inputs=len(tar)) + tar, cwd=cwd)
        self.assertEqual((r.stdout, r.exit), ("ran\n", 0))
        self.assertIn("mcp-bridge: the input directories could not be copied in", r.stderr)


if __name__ == "__main__":
    unittest.main()
