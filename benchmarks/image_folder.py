"""How fast an image-folder data set loads: the first decode into the cache, then a cache hit.

Decodes the folder or archive into a fresh cache (in a temporary data root), then loads both
splits again from that cache as a new command would (the process's memory of it cleared first),
and prints images per second for each, with the threads Pillow decoded on.

    python benchmarks/image_folder.py cifar10-jpeg.tar.gz [--repeats 1]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from archbench.data import _image_folder, image_folder_info, load_dataset


def forget() -> None:
    """Drops the arrays this process holds, so the next load reads the cache as a new one would."""
    _image_folder._read_cache.cache_clear()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("source", type=Path, help="an image folder, or a .tar/.tar.gz/.zip of one")
    parser.add_argument("--repeats", type=int, default=1, help="cold decodes to time")
    args = parser.parse_args()
    print(f"{args.source}: {os.cpu_count()} decoding threads")
    for repeat in range(args.repeats):
        with tempfile.TemporaryDirectory() as root:
            forget()
            started = time.perf_counter()
            info = image_folder_info(args.source, root)
            cold = time.perf_counter() - started
            count = sum(sum(counts) for counts in info.counts.values())
            forget()
            started = time.perf_counter()
            for split in info.counts:
                if split != "val":
                    load_dataset(str(args.source), split, root)  # type: ignore[arg-type]
            hit = time.perf_counter() - started
            size = Path(info.cache).stat().st_size / 2**20
        print(
            f"run {repeat + 1}: {count:,} images {'x'.join(map(str, info.shape))}; "
            f"cold decode {cold:.1f} s ({count / cold:,.0f} images/s); "
            f"cache hit {hit:.2f} s ({count / hit:,.0f} images/s); cache {size:.0f} MiB"
        )


if __name__ == "__main__":
    main()
