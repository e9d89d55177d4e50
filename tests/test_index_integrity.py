"""Crash safety of the index folder: an indexer killed mid-run, a damaged folder and its one-command
repair, two writers at once, a full disk. Real subprocesses, real Chroma on disk, a real tmpfs."""

from __future__ import annotations

import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import make_config

from rag.bench.corpus import generate, write_folder
from rag.errors import IndexBusyError, IndexCorruptError, IndexWriteError
from rag.pipeline import Pipeline
from rag.store.chroma import Store
from rag.store.integrity import diagnose, disk_full, space_shortfall
from rag.store.lock import index_lock

ROOT = Path(__file__).resolve().parent.parent
JAPAN = "What did Japan offer India?"


def test_disk_full_is_named_through_the_chain_of_causes():
    assert disk_full(OSError(errno.ENOSPC, "No space left on device")) == "no space left on the device"
    try:
        try:
            raise OSError(errno.EFBIG, "File too large")
        except OSError as inner:
            raise RuntimeError("write failed") from inner
    except RuntimeError as outer:
        assert disk_full(outer) == "a file grew over the size the system allows"
    assert disk_full(RuntimeError("error returned from database: (code: 13) database or disk is full")) == "the disk is full"
    assert disk_full(ValueError("bad value")) == "" and disk_full(OSError(errno.EACCES, "denied")) == ""


def test_lock_is_reentrant_for_its_thread_and_busy_for_others(tmp_path):
    seen: list[BaseException] = []

    def other() -> None:
        try:
            with index_lock(tmp_path):
                pass
        except IndexBusyError as exc:
            seen.append(exc)

    with index_lock(tmp_path), index_lock(tmp_path):  # a repair that rebuilds takes it twice
        t = threading.Thread(target=other)
        t.start()
        t.join()
    assert len(seen) == 1 and "is busy" in str(seen[0])
    with index_lock(tmp_path):  # released
        pass


def env_for(config) -> dict[str, str]:
    return {**os.environ, "RAG_SEEDS_DIR": str(config.seeds_dir), "RAG_INDEX_DIR": str(config.index_dir),
            "RAG_TEXT_CACHE_DIR": str(config.text_cache_dir)}


def cli(config, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=ROOT, env=env_for(config),
                          capture_output=True, text=True, timeout=timeout)


def forget_chroma_clients() -> None:
    """Chroma keeps one client per path per process: a folder another process rewrote must be
    opened afresh, as a new start would."""
    from chromadb.api.client import SharedSystemClient

    SharedSystemClient.clear_system_cache()


@pytest.mark.slow
def test_a_second_process_is_told_the_index_is_busy(tmp_path, embedder):
    config = make_config(tmp_path)
    Pipeline(config, embedder=embedder).index()
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from rag.store.lock import index_lock\n"
         "with index_lock(sys.argv[1]):\n    print('held', flush=True); time.sleep(120)", str(config.index_dir)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        res = cli(config, "index", "--rebuild")
        assert res.returncode == 2
        assert res.stderr.strip().splitlines()[-1] == (
            f"error: the index at {config.index_dir} is busy: process {holder.pid} is indexing it; "
            "try again when it has finished (questions are still answered from the current index)")
        pipeline = Pipeline(config, embedder=embedder).warm_up()
        with pytest.raises(IndexBusyError, match=f"process {holder.pid} is indexing it"):
            pipeline.upload("note.txt", b"Harbour news\n\nThe Quillon harbour will get two new berths next year, the authority said.\n")
        assert pipeline.ask(JAPAN).citations  # readers never wait for the lock
    finally:
        holder.send_signal(signal.SIGKILL)  # the kernel drops a dead holder's lock
        holder.wait()
    pipeline.upload("note.txt", b"Harbour news\n\nThe Quillon harbour will get two new berths next year, the authority said.\n")
    assert "uploads/note.txt" in {d.source for d in pipeline.documents()}


def damage_cases(gen: str) -> dict:
    def truncate(rel: str, size: int):
        return lambda index: open(index / gen / rel, "r+b").truncate(size)

    return {
        "missing chroma database": lambda index: os.remove(index / gen / "chroma" / "chroma.sqlite3"),
        "truncated chroma database": truncate("chroma/chroma.sqlite3", 4096),
        "truncated tables": truncate("tables.sqlite", 4096),
        "overwritten tables": lambda index: (index / gen / "tables.sqlite").write_bytes(b"not a database" * 500),
        "missing tables": lambda index: os.remove(index / gen / "tables.sqlite"),
        "dangling CURRENT": lambda index: (index / "CURRENT").write_text("gen-20200101-000000-1-1"),
        "empty CURRENT": lambda index: (index / "CURRENT").write_text(""),
    }


@pytest.mark.slow
def test_damage_is_detected_and_repair_fixes_it(tmp_path, embedder):
    config = make_config(tmp_path / "base")
    built = Pipeline(config, embedder=embedder)
    built.index()
    documents = len(built.documents())
    gen = Store.current_name(config.index_dir)
    forget_chroma_clients()
    for name, hurt in damage_cases(gen).items():
        case = tmp_path / name.replace(" ", "-")
        shutil.copytree(config.index_dir, case)
        hurt(case)
        cfg = config.with_(index_dir=case)
        with pytest.raises(IndexCorruptError, match=r"Repair it with `python -m rag index --repair`") as err:
            Pipeline(cfg, embedder=embedder).warm_up()
        assert "\n" not in str(err.value), name
        assert diagnose(case, cfg.collection).problems, name
        fixed = Pipeline(cfg, embedder=embedder).repair()
        assert fixed.problems and fixed.rebuilt is not None, name
        assert fixed.rebuilt.documents == documents, name
        forget_chroma_clients()
        again = Pipeline(cfg, embedder=embedder).warm_up()
        assert len(again.documents()) == documents and again.ask(JAPAN).citations, name
        assert diagnose(case, cfg.collection).problems == [], name
        forget_chroma_clients()

    # Leftovers of killed runs and an unreadable cache: the index still serves; repair clears them.
    case = tmp_path / "leftovers"
    shutil.copytree(config.index_dir, case)
    shutil.copytree(case / gen, case / "gen-20200101-000000-1-1")
    (case / gen / "lexical.tmp4242").mkdir()  # a BM25 save a kill cut short
    (case / "embed-cache.sqlite").write_bytes(b"not a database" * 100)
    cfg = config.with_(index_dir=case, text_cache_dir=None)
    assert len(Pipeline(cfg, embedder=embedder).warm_up().documents()) == documents
    forget_chroma_clients()
    fixed = Pipeline(cfg, embedder=embedder).repair()
    assert fixed.rebuilt is None
    assert set(fixed.removed) == {"gen-20200101-000000-1-1", "lexical.tmp4242", "embed-cache.sqlite"}
    assert sorted(p.name for p in case.glob("gen-*")) == [gen]
    assert diagnose(case, cfg.collection).problems == []


@pytest.mark.slow
def test_repair_is_one_command(tmp_path, embedder):
    config = make_config(tmp_path)
    Pipeline(config, embedder=embedder).index()
    forget_chroma_clients()
    gen = Store.current_name(config.index_dir)
    os.remove(config.index_dir / gen / "chroma" / "chroma.sqlite3")
    res = cli(config, "ask", JAPAN)
    assert res.returncode == 2 and "python -m rag index --repair" in res.stderr and "Traceback" not in res.stderr
    res = cli(config, "index", "--repair")
    assert res.returncode == 0, res.stderr
    assert "found: index at" in res.stderr and "chroma/chroma.sqlite3 is missing" in res.stderr
    assert "rebuilt the index" in res.stdout
    assert diagnose(config.index_dir, config.collection).problems == []
    res = cli(config, "ask", JAPAN)
    assert res.returncode == 0 and "Sources:" in res.stdout


def chroma_state(gen_dir: Path) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted((gen_dir / "chroma").rglob("*")) if p.is_file())


def kill_when(proc: subprocess.Popen, ready, timeout: float = 240) -> bool:
    """SIGKILL `proc` as soon as `ready()` holds; False when it finished first."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    proc.kill()
    raise AssertionError("the indexer neither reached the point to kill it at nor finished")


@pytest.mark.slow
def test_sigkill_mid_index_serves_the_previous_index(tmp_path, embedder):
    """Killed while writing a rebuild, then while writing an update in place: each time the next
    start serves the previous complete index, and a re-run completes the new one."""
    config = make_config(tmp_path)
    write_folder(generate(60), config.seeds_dir / "synthetic")  # ~1,000 sentence rows: a write phase to hit
    first = Pipeline(config, embedder=embedder)
    first.index()
    documents = len(first.documents())
    gen = Store.current_name(config.index_dir)
    forget_chroma_clients()

    # 1. A rebuild (all vectors cached: it reaches the write phase at once), killed mid-write.
    (config.seeds_dir / "late.txt").write_text(
        "Late news\n\nThe Quillon harbour authority approved two deep-water berths on Monday, at a cost of 12 million euros.\n")
    proc = subprocess.Popen([sys.executable, "-m", "rag", "index", "--rebuild"], cwd=ROOT, env=env_for(config),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    new_gen = lambda: [p for p in config.index_dir.glob("gen-*") if p.name != gen]  # noqa: E731
    killed = kill_when(proc, lambda: any((p / "chroma" / "chroma.sqlite3").exists() for p in new_gen()))
    assert killed, "the rebuild finished before it could be killed"
    assert Store.current_name(config.index_dir) == gen and new_gen()  # a half-written generation is left
    served = Pipeline(config, embedder=embedder).warm_up()
    assert len(served.documents()) == documents and served.ask(JAPAN).citations
    assert served.folder_changes().added == ["late.txt"]
    forget_chroma_clients()
    rebuilt = Pipeline(config, embedder=embedder)
    assert rebuilt.index(rebuild=True).documents == documents + 1  # the re-run (in-process: same code as the CLI's)
    # The killed run's half-written generation is gone; the one replaced is kept (other readers).
    assert sorted(p.name for p in config.index_dir.glob("gen-*")) == sorted([gen, Store.current_name(config.index_dir)])
    assert Store.current_name(config.index_dir) != gen
    forget_chroma_clients()

    # 2. An incremental update (30 edited stories) written into the live generation, killed as
    #    soon as Chroma's files change.
    for path in sorted((config.seeds_dir / "synthetic").iterdir())[:30]:
        path.write_text(path.read_text(encoding="utf-8") + "\nThe council will publish its full report next spring.\n",
                        encoding="utf-8")
    live = config.index_dir / Store.current_name(config.index_dir)
    before = chroma_state(live)
    proc = subprocess.Popen([sys.executable, "-m", "rag", "index"], cwd=ROOT, env=env_for(config),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert kill_when(proc, lambda: chroma_state(live) != before), "the update finished before it could be killed"
    after_kill = Pipeline(config, embedder=embedder).warm_up()  # opens: no corruption
    assert len(after_kill.documents()) == documents + 1
    assert after_kill.ask(JAPAN).citations
    pending = after_kill.folder_changes()
    assert len(pending.updated) in (0, 30) and not pending.added  # the old tables or the new, never a mix
    forget_chroma_clients()
    done = Pipeline(config, embedder=embedder)
    done.index()
    assert not done.folder_changes() and len(done.documents()) == documents + 1
    assert diagnose(config.index_dir, config.collection).problems == []  # no left-over vectors either


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True).returncode == 0


def test_space_shortfall_names_what_is_free_and_needed(tmp_path):
    assert space_shortfall(tmp_path, 0) == ""
    assert space_shortfall(tmp_path, 10) == ""  # (70 kB: any disk the tests run on has that)
    short = space_shortfall(tmp_path, 10**12)  # 10 PB
    assert short.startswith("the disk is full for this update: ") and short.endswith(" MB needed")


@pytest.mark.slow
def test_full_disk_keeps_the_previous_index_serving(tmp_path, embedder):
    """A 3 MB tmpfs holds the seeds' index (1.5 MB) but not 60 more articles (5.8 MB). Needs root to
    mount it (and CAP_SYS_ADMIN in a container); without, the test is skipped: no RLIMIT_FSIZE fallback was built.
    The update is refused before Chroma is touched: a full disk in the middle of Chroma's write
    poisons its client (rag.store.integrity.space_shortfall), which hung this test in 1 of 2 runs."""
    disk = tmp_path / "disk"
    if not mount_tmpfs(disk, "3m"):
        pytest.skip("mounting a tmpfs needs root")
    try:
        config = make_config(tmp_path).with_(index_dir=disk / "index")
        pipeline = Pipeline(config, embedder=embedder)
        pipeline.index()
        documents = len(pipeline.documents())
        write_folder(generate(60), config.seeds_dir / "synthetic")
        for rebuild in (False, True):
            with pytest.raises(IndexWriteError, match=r"could not write the index at .*: the disk is full for this update: [\d.]+ MB free, about [\d.,]+ MB needed; the previous index is still serving"):
                pipeline.index(rebuild=rebuild)
            assert len(pipeline.documents()) == documents and pipeline.ask(JAPAN).citations
        assert [p.name for p in (disk / "index").glob("gen-*")] == [Store.current_name(disk / "index")]
        forget_chroma_clients()
        fresh = Pipeline(config, embedder=embedder).warm_up()  # the next start serves it too
        assert len(fresh.documents()) == documents and fresh.ask(JAPAN).citations
        db = sqlite3.connect(disk / "index" / Store.current_name(disk / "index") / "chroma" / "chroma.sqlite3")
        assert db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
        db.close()
        forget_chroma_clients()
    finally:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True)
