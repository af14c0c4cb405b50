"""A smaller image-folder archive cut from a bigger one, for benchmarks sized to a 2-core CPU.

Copies the first ``--train`` images of every class of ``train/`` into ``train/``, the next
``--val`` into ``val/`` (a fixed validation set, so every proxy and reference run is scored on
the same images), and the first ``--test`` of every class of ``test/`` into ``test/``. The JPEG
bytes are copied as they are, not re-encoded.

    python benchmarks/cifar_subset.py cifar10-jpeg.tar.gz --train 500 --val 200 --test 200 \\
        --out runs/cifar10-jpeg-5k.tar
"""

from __future__ import annotations

import argparse
import gzip
import io
import tarfile
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("archive", type=Path, help="a .tar or .tar.gz of an image folder")
    parser.add_argument("--train", type=int, default=500, help="training images per class")
    parser.add_argument("--val", type=int, default=200, help="validation images per class")
    parser.add_argument("--test", type=int, default=200, help="test images per class")
    parser.add_argument("--out", type=Path, required=True, help="the .tar to write")
    args = parser.parse_args()
    raw = args.archive.read_bytes()
    if args.archive.name.endswith((".gz", ".tgz")):
        raw = gzip.decompress(raw)
    files: dict[tuple[str, str], list[tuple[str, tarfile.TarInfo]]] = defaultdict(list)
    with tarfile.open(fileobj=io.BytesIO(raw)) as archive:
        for member in archive:
            parts = member.name.strip("/").split("/")
            if member.isfile() and len(parts) >= 3 and parts[-3] in ("train", "test"):
                files[parts[-3], parts[-2]].append((parts[-1], member))
    wanted = {"train": (0, args.train), "val": (args.train, args.val), "test": (0, args.test)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    top = args.out.name.removesuffix(".tar")
    with tarfile.open(args.out, "w") as out:
        for split, (start, count) in wanted.items():
            source = "test" if split == "test" else "train"
            for (folder, name), members in sorted(files.items()):
                if folder != source:
                    continue
                for filename, member in sorted(members)[start : start + count]:
                    data = raw[member.offset_data : member.offset_data + member.size]
                    info = tarfile.TarInfo(f"{top}/{split}/{name}/{filename}")
                    info.size, info.mtime = len(data), member.mtime
                    out.addfile(info, io.BytesIO(data))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
