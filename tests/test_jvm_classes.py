"""Class counting from java command lines: real jars and zips built here, read by central directory."""
from __future__ import annotations

import io
import os
import random
import time
import zipfile
import zlib

import pytest

from cgroupsize.runtimes import jvm_classes as jc

BASE = jc.JDK_BASELINE


def make_jar(path, classes=0, prefix="com/example/", extra=None, manifest=None, compression=zipfile.ZIP_DEFLATED):
    """A jar with ``classes`` .class entries (plus resources and ``extra`` name -> bytes entries)."""
    with zipfile.ZipFile(path, "w", compression) as z:
        if manifest is not None:
            z.writestr("META-INF/MANIFEST.MF", manifest)
        for i in range(classes):
            z.writestr(f"{prefix}C{i}.class", b"\xca\xfe\xba\xbe" + bytes(40))
        z.writestr("application.properties", "a=b\n")
        for name, data in (extra or {}).items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_STORED if name.endswith(".jar") else compression
            z.writestr(info, data)
    return path


def jar_bytes(classes, prefix="lib/"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(classes):
            z.writestr(f"{prefix}K{i}.class", b"\xca\xfe\xba\xbe" + bytes(40))
        z.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n")
    return buf.getvalue()


def count(args, env=None, cwd=None, **kw):
    return jc.count(args, env or {}, cwd=cwd, read_file=_read, **kw)


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


# -- plain jars, what is and is not a class ------------------------------------------------------------


def test_plain_jar_counts_only_loadable_classes(tmp_path):
    jar = make_jar(tmp_path / "app.jar", 25, extra={
        "module-info.class": b"x", "com/example/package-info.class": b"x",
        "META-INF/versions/11/com/example/C0.class": b"x",  # a multi-release duplicate
        "com/example/C0.java": b"source", "static/app.js": b"x"})
    c = count(["-jar", str(jar)])
    assert c.app == 25 and c.total == 25 + BASE
    assert c.class_bytes == 25 * 44  # uncompressed sizes, from the central directory
    assert c.counted == [("-jar", 25)] and c.complete and c.estimated == 0


def test_jdk_baseline_is_part_of_the_total(tmp_path):
    c = count(["-cp", str(make_jar(tmp_path / "a.jar", 3)), "Main"])
    assert c.baseline == BASE > 400  # hello world alone loads 406 JDK classes (measured)
    assert c.total == 3 + BASE


# -- fat jars ------------------------------------------------------------------------------------------


def test_spring_boot_fat_jar_reads_stored_nested_jars_in_place(tmp_path):
    libs = {f"BOOT-INF/lib/lib{k}.jar": jar_bytes(10 + k) for k in range(5)}
    jar = make_jar(tmp_path / "boot.jar", 7, prefix="org/springframework/boot/loader/",
                   extra={**libs, **{f"BOOT-INF/classes/com/acme/A{i}.class": b"x" for i in range(30)}},
                   manifest="Manifest-Version: 1.0\nMain-Class: org.springframework.boot.loader.JarLauncher\n")
    c = count(["-jar", str(jar)])
    nested = sum(10 + k for k in range(5))
    assert c.app == 7 + 30 + nested
    assert ("-jar: nested lib3.jar", 13) in c.counted
    assert c.class_bytes == 7 * 44 + 30 * 1 + nested * 44
    assert c.complete and c.estimated == 0


def test_war_counts_web_inf_classes_and_libs(tmp_path):
    war = make_jar(tmp_path / "app.war", 0, extra={
        **{f"WEB-INF/classes/x/S{i}.class": b"x" for i in range(12)},
        "WEB-INF/lib/a.jar": jar_bytes(20), "WEB-INF/lib-provided/tomcat.jar": jar_bytes(40)})
    c = count(["-jar", str(war)])
    assert c.app == 12 + 20 + 40 and c.complete


def test_deflated_nested_jar_is_estimated_and_says_so(tmp_path):
    inner = jar_bytes(500)
    path = tmp_path / "fat.jar"
    with zipfile.ZipFile(path, "w") as z:
        info = zipfile.ZipInfo("BOOT-INF/lib/zipped.jar")
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, inner)
    c = count(["-jar", str(path)])
    (what, n), = [(w, n) for w, n in c.counted if w != "-jar"]
    assert what == "-jar: nested zipped.jar (compressed: estimated from its size)"
    assert n == c.estimated >= 1 and c.complete
    assert n == max(1, z.getinfo("BOOT-INF/lib/zipped.jar").compress_size // jc.ESTIMATE_BYTES_PER_CLASS)


def test_corrupt_nested_jar_is_missed_not_fatal(tmp_path):
    jar = make_jar(tmp_path / "boot.jar", 4, extra={"BOOT-INF/lib/bad.jar": b"PK\x03\x04 not really a jar",
                                                    "BOOT-INF/lib/ok.jar": jar_bytes(6)})
    c = count(["-jar", str(jar)])
    assert c.app == 4 + 6
    assert [w for w, _ in c.missed] == ["-jar: nested bad.jar"] and not c.complete


def test_launch_script_prefix_is_skipped(tmp_path):
    """Spring Boot's "fully executable" jars start with a shell script; offsets shift by its size."""
    plain = make_jar(tmp_path / "plain.jar", 9, extra={"BOOT-INF/lib/x.jar": jar_bytes(11)})
    exe = tmp_path / "exe.jar"
    exe.write_bytes(b"#!/bin/bash\n# launch script\n" + b"#" * 5000 + b"\nexit 0\n" + plain.read_bytes())
    assert count(["-jar", str(exe)]).app == 9 + 11


def test_zip_comment_is_searched_past(tmp_path):
    jar = make_jar(tmp_path / "c.jar", 5)
    with zipfile.ZipFile(jar, "a") as z:
        z.comment = b"PK\x05\x06 looks like an end record" + b"c" * 3000
    assert count(["-jar", str(jar)]).app == 5


def test_zip64_jar_with_more_than_65535_entries(tmp_path):
    jar = tmp_path / "big.jar"
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_STORED) as z:
        for i in range(70_000):
            z.writestr(f"p/C{i}.class", b"")
    assert jar.read_bytes().rfind(b"PK\x06\x06") > 0  # the zip64 end record is really there
    c = count(["-cp", str(jar), "Main"])
    assert c.app == 70_000 and c.complete


# -- manifests -----------------------------------------------------------------------------------------


def test_manifest_class_path_with_continuation_lines_and_escapes(tmp_path):
    (tmp_path / "lib").mkdir()
    make_jar(tmp_path / "lib" / "alpha-library-with-a-very-long-name-1.0.0.jar", 3)
    make_jar(tmp_path / "lib" / "b c.jar", 4)
    (tmp_path / "classes" / "p").mkdir(parents=True)
    (tmp_path / "classes" / "p" / "X.class").write_bytes(b"x")
    line = "Class-Path: lib/alpha-library-with-a-very-long-name-1.0.0.jar lib/b%20c.jar classes/ lib/missing.jar"
    wrapped = line[:70] + "\r\n " + line[70:]  # manifests wrap at 72 bytes
    app = make_jar(tmp_path / "app.jar", 2, manifest=f"Manifest-Version: 1.0\r\n{wrapped}\r\n\r\nName: x\r\n")
    c = count(["-jar", str(app)])
    assert c.app == 2 + 3 + 4 + 1  # classes/ is a directory: walked
    assert c.complete and ("-jar: Class-Path entry (does not exist: java skips it)", 0) in c.counted


@pytest.mark.parametrize("level", [0, 1, 6, 9])
def test_inflate_matches_zlib(level):
    rng = random.Random(level)
    words = [f"lib/dependency-{k}.jar" for k in range(300)]
    text = ("Manifest-Version: 1.0\nClass-Path: " + " ".join(rng.choice(words) for _ in range(2000))).encode()
    text += bytes(rng.randrange(256) for _ in range(3000))  # incompressible: stored or literal-heavy blocks
    co = zlib.compressobj(level, zlib.DEFLATED, -15)
    raw = co.compress(text) + co.flush()
    assert jc.inflate(raw) == text


def test_inflate_refuses_bad_streams_and_output_over_its_bound():
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    bomb = co.compress(b"\0" * (4 << 20)) + co.flush()
    with pytest.raises(jc.ZipError):
        jc.inflate(bomb, limit=1 << 20)
    for bad in (b"", b"\x07", b"\x05\xff\xff\xff", raw_truncated()):
        with pytest.raises(jc.ZipError):
            jc.inflate(bad)


def raw_truncated():
    co = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = co.compress(b"Class-Path: a.jar b.jar " * 50) + co.flush()
    return data[: len(data) // 2]


# -- class paths ---------------------------------------------------------------------------------------


def test_class_path_dirs_jars_and_wildcards(tmp_path):
    (tmp_path / "classes" / "a" / "b").mkdir(parents=True)
    for name in ("a/X.class", "a/b/Y.class", "a/b/Z.class", "a/b/module-info.class", "a/readme.txt"):
        (tmp_path / "classes" / name).write_bytes(b"x")
    (tmp_path / "lib").mkdir()
    make_jar(tmp_path / "lib" / "one.jar", 5)
    make_jar(tmp_path / "lib" / "TWO.JAR", 6)
    make_jar(tmp_path / "lib" / "three.zip", 100)  # not expanded by the wildcard
    (tmp_path / "lib" / "sub").mkdir()
    make_jar(tmp_path / "lib" / "sub" / "deep.jar", 100)  # the wildcard is not recursive
    make_jar(tmp_path / "solo.jar", 7)
    c = count(["-cp", os.pathsep.join(["classes", "lib/*", "solo.jar", "lib/one.jar"]), "Main"], cwd=str(tmp_path))
    assert c.app == 3 + 5 + 6 + 7  # lib/one.jar is counted once
    assert c.class_bytes == 3 * 1 + (5 + 6 + 7) * 44
    assert c.complete


@pytest.mark.parametrize("args", [["--class-path", "x.jar", "Main"], ["--class-path=x.jar", "Main"],
                                  ["-classpath", "x.jar", "Main"], ["-Dy=1", "-cp", "x.jar", "Main", "-cp", "y.jar"]])
def test_class_path_spellings(tmp_path, args):
    make_jar(tmp_path / "x.jar", 4)
    make_jar(tmp_path / "y.jar", 50)
    assert count(args, cwd=str(tmp_path)).app == 4


def test_classpath_variable_and_its_precedence(tmp_path):
    make_jar(tmp_path / "env.jar", 8)
    make_jar(tmp_path / "cli.jar", 3)
    make_jar(tmp_path / "app.jar", 2)
    env = {"CLASSPATH": str(tmp_path / "env.jar")}
    assert count(["Main"], env).app == 8
    assert count(["-cp", str(tmp_path / "cli.jar"), "Main"], env).app == 3  # -cp replaces CLASSPATH
    assert count(["-cp", str(tmp_path / "cli.jar"), "-jar", str(tmp_path / "app.jar")], env).app == 2


def test_default_class_path_is_the_current_directory_but_never_root(tmp_path):
    (tmp_path / "Main.class").write_bytes(b"x")
    assert count(["Main"], cwd=str(tmp_path)).app == 1
    c = count(["Main"], cwd="/")
    assert c.app == 0 and c.missed == [("the default class path", "the current directory is / (not walked)")]


def test_module_path_jars_and_exploded_modules(tmp_path):
    mods = tmp_path / "mods"
    (mods / "exploded.mod" / "p").mkdir(parents=True)
    (mods / "exploded.mod" / "module-info.class").write_bytes(b"x")
    (mods / "exploded.mod" / "p" / "A.class").write_bytes(b"x")
    make_jar(mods / "m1.jar", 4, extra={"module-info.class": b"x"})
    make_jar(tmp_path / "m2.jar", 6)
    (tmp_path / "solo" / "q").mkdir(parents=True)
    (tmp_path / "solo" / "module-info.class").write_bytes(b"x")
    (tmp_path / "solo" / "q" / "B.class").write_bytes(b"x")
    for args in (["-p", os.pathsep.join([str(mods), str(tmp_path / "m2.jar")]), "-m", "app/p.Main"],
                 [f"--module-path={mods}{os.pathsep}{tmp_path / 'm2.jar'}", "--module", "app"]):
        assert count(args).app == 1 + 4 + 6
    assert count(["--module-path", str(tmp_path / "solo"), "-m", "q"]).app == 1


# -- agents, argfiles, options variables -----------------------------------------------------------------


def test_agents_everywhere(tmp_path):
    for k, n in (("a", 3), ("b", 5), ("c", 7)):
        make_jar(tmp_path / f"{k}.jar", n)
    env = {"JAVA_TOOL_OPTIONS": f"-javaagent:{tmp_path / 'a.jar'}=config=x,y -Xmx1g",
           "JDK_JAVA_OPTIONS": f"-javaagent:{tmp_path / 'b.jar'}"}
    c = count([f"-javaagent:{tmp_path / 'c.jar'}", "-jar", str(make_jar(tmp_path / "app.jar", 1))], env)
    assert c.app == 3 + 5 + 7 + 1
    assert [w for w, _ in c.counted] == ["-javaagent 1", "-javaagent 2", "-javaagent 3", "-jar"]


def test_argfile_class_path_and_unread_argfile(tmp_path):
    make_jar(tmp_path / "x.jar", 12)
    (tmp_path / "cp.args").write_text(f"# comment\n-cp {tmp_path / 'x.jar'}\n")
    assert count([f"@{tmp_path / 'cp.args'}", "Main"]).app == 12
    c = count([f"@{tmp_path / 'nope.args'}", "-jar", str(tmp_path / "x.jar")])
    assert c.app == 12 and not c.complete
    assert c.missed[0][0] == "an @argfile"
    assert count(["--disable-@files", "-cp", str(tmp_path / "x.jar"), "@cp.args"]).app == 12


def test_what_follows_the_main_class_is_the_applications(tmp_path):
    make_jar(tmp_path / "x.jar", 2)
    make_jar(tmp_path / "agent.jar", 40)
    args = ["-cp", str(tmp_path / "x.jar"), "Main", f"-javaagent:{tmp_path / 'agent.jar'}", "-jar", "other.jar"]
    assert count(args).app == 2


# -- bad files never raise -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", [b"", b"not a zip at all", b"PK\x05\x06" + bytes(16) + b"\x05\x00",
                                     b"PK\x05\x06" + bytes(6) + b"\x05\x00" + b"\xff\xff\x00\x00" * 2 + b"\x00\x00",
                                     b"\x00" * 100 + b"PK\x05\x06\x00\x00\x00\x00\x01\x00\x01\x00"
                                     + b"\x40\x00\x00\x00\x00\x00\x00\x00\x00\x00"])
def test_corrupt_jars_are_missed(tmp_path, content):
    (tmp_path / "bad.jar").write_bytes(content)
    make_jar(tmp_path / "good.jar", 3)
    c = count(["-cp", os.pathsep.join([str(tmp_path / "bad.jar"), str(tmp_path / "good.jar")]), "Main"])
    assert c.app == 3
    assert [w for w, _ in c.missed] == ["-cp entry 1"] and "not a readable jar" in c.missed[0][1]


def test_truncated_jar_is_missed(tmp_path):
    data = make_jar(tmp_path / "t.jar", 50).read_bytes()
    (tmp_path / "t.jar").write_bytes(data[: len(data) - 300])
    c = count(["-jar", str(tmp_path / "t.jar")])
    assert c.app == 0 and not c.complete


def test_corrupt_central_directory_entry(tmp_path):
    data = bytearray(make_jar(tmp_path / "c.jar", 10).read_bytes())
    at = data.find(b"PK\x01\x02", data.find(b"PK\x01\x02") + 1)
    data[at:at + 4] = b"XXXX"
    (tmp_path / "c.jar").write_bytes(bytes(data))
    assert "corrupt central directory" in count(["-jar", str(tmp_path / "c.jar")]).missed[0][1]


def test_missing_unreadable_and_special_files(tmp_path):
    os.mkfifo(tmp_path / "pipe.jar")
    (tmp_path / "dangling.jar").symlink_to(tmp_path / "gone.jar")
    (tmp_path / "locked").mkdir()
    make_jar(tmp_path / "locked" / "x.jar", 5)
    c = count(["-cp", os.pathsep.join([str(tmp_path / "pipe.jar"), str(tmp_path / "dangling.jar"),
                                       str(tmp_path / "missing.jar")]), "Main"])
    assert c.app == 0  # returns at once: the FIFO is neither opened for blocking nor drained
    assert c.missed == [("-cp entry 1", "not a regular file")]  # java skips what does not exist: counted as 0
    assert [w for w, _ in c.counted] == ["-cp entry 2 (does not exist: java skips it)",
                                         "-cp entry 3 (does not exist: java skips it)"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path):
    jar = make_jar(tmp_path / "x.jar", 5)
    jar.chmod(0)
    assert "unreadable" in count(["-jar", str(jar)]).missed[0][1]


# -- bounds --------------------------------------------------------------------------------------------


def test_file_bound_stops_the_walk_and_says_so(tmp_path):
    (tmp_path / "c").mkdir()
    for i in range(300):
        (tmp_path / "c" / f"K{i}.class").write_bytes(b"")
    c = count(["-cp", str(tmp_path / "c"), "Main"], bounds=jc.Bounds(files=100))
    assert 0 < c.app <= 100 and not c.complete
    assert "the file-count bound" in c.missed[0][1]


def test_byte_bound_stops_reading(tmp_path):
    jar = make_jar(tmp_path / "x.jar", 2000)
    c = count(["-jar", str(jar)], bounds=jc.Bounds(read_bytes=10_000))
    assert c.app == 0 and "bytes-read bound" in c.missed[0][1]


def test_time_bound(tmp_path):
    make_jar(tmp_path / "x.jar", 10)
    c = count(["-jar", str(tmp_path / "x.jar")], bounds=jc.Bounds(seconds=-1))
    assert c.app == 0 and "time bound" in c.missed[0][1]


def make_100mb_fat_jar(path, libs=160, per_lib=400, pad=600_000):
    """A Spring Boot-style jar of ~100 MB: ``libs`` STORED nested jars of ``per_lib`` classes and padding."""
    rng = random.Random(1)
    blob = rng.randbytes(pad)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for i in range(2000):
            z.writestr(f"BOOT-INF/classes/com/acme/service/impl/GeneratedService{i}.class", b"\xca\xfe" * 20)
        for k in range(libs):
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as inner:
                for i in range(per_lib):
                    inner.writestr(f"org/lib{k}/internal/pkg/Type{i}$Inner.class", b"\xca\xfe" * 20)
                inner.writestr("META-INF/resources/blob.bin", blob)
            z.writestr(f"BOOT-INF/lib/library-{k}-1.0.0.jar", buf.getvalue())
    return path


def test_100mb_fat_jar_within_its_bound(tmp_path):
    jar = make_100mb_fat_jar(tmp_path / "huge.jar")
    size = jar.stat().st_size
    assert size >= 100_000_000
    start = time.perf_counter()
    c = count(["-jar", str(jar)])  # the default bounds
    elapsed = time.perf_counter() - start
    assert c.complete, c.missed
    assert c.app == 2000 + 160 * 400
    print(f"\nBENCHMARK 100 MB fat jar ({size / 1e6:.0f} MB, 161 central directories, "
          f"{c.app} classes): counted in {elapsed * 1000:.0f} ms")
