#!/usr/bin/python3
"""Rebuilds moodnet's embedded sample (data/sample/train, data/sample/test) from the shared copy
of mux-facial-expressions. Usage, from the repository root:

    /usr/bin/python3 data/sample/make_sample.py ../shared/data/mux-facial-expressions

SRC may be the data set folder or its all/ subfolder (which holds happy/ and sad/). The output
goes next to this script: train/ and test/ there are deleted and written anew; nothing else is
touched. Needs Pillow (Debian 12: apt-get install python3-pil, which is /usr/bin/python3's).
Byte-identical output needs the same Pillow/libjpeg (built with Pillow 9.4.0, libjpeg-turbo
6.2 API, Debian 12's python3-pil).

Selection rule (see README.md):
  * every sad image; as many happy images as sad ones;
  * identity = file name without the trailing _NNNN / _NN number;
  * identities are visited in the order of sha256("moodnet-sample-v2:" + identity) (hex digest,
    ascending);
  * split by identity, stratified per class, about 25 % test: sad identities (in hash order) go
    wholly to test while their images still fit in the test quota round(0.25 * #sad), else to
    train. The happy test quota equals the number of sad test images, the rest is train;
  * happy images: one image per identity first (round 1), then a second per identity, ... until
    the quotas are met; within an identity, grayscale originals first, then by file name. An
    identity that also has sad images may only give happy images to the side its sad images are
    on; any other identity is given a side the first time it contributes (test while the happy
    test quota is open, else train) and keeps it. So no identity is on both sides.
Processing: convert to grayscale ("L", ITU-R 601-2 luma), center-crop to a square (side = the
shorter side), resize to 64x64 (Lanczos), save as baseline JPEG, quality QUALITY, optimized
Huffman tables, no metadata. File names are kept.
"""
import hashlib
import os
import re
import shutil
import sys

from PIL import Image

SEED = 'moodnet-sample-v2'
SIZE = 64
QUALITY = 90
TEST_FRACTION = 0.25
CLASSES = ('happy', 'sad')


def identity(name):
    return re.sub(r'_\d+$', '', os.path.splitext(name)[0])


def seeded(person):
    return hashlib.sha256(f'{SEED}:{person}'.encode()).hexdigest()


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else '/work/shared/data/mux-facial-expressions'
    if not os.path.isdir(os.path.join(src, 'happy')):
        src = os.path.join(src, 'all')
    dst = os.path.dirname(os.path.abspath(__file__))

    # files[cls][person] = file names of that identity in that class, grayscale originals
    # first, then by file name.
    files = {}
    for cls in CLASSES:
        by_person = {}
        for name in sorted(os.listdir(os.path.join(src, cls))):
            if not name.lower().endswith('.jpg'):
                continue
            with Image.open(os.path.join(src, cls, name)) as im:
                gray = im.mode == 'L'
            by_person.setdefault(identity(name), []).append((not gray, name))
        files[cls] = {p: [n for _, n in sorted(v)] for p, v in by_person.items()}

    # Sad: every image; whole identities to test while they fit in the quota, else train.
    side = {}                      # identity -> 'train' / 'test'
    chosen = {(s, c): [] for s in ('train', 'test') for c in CLASSES}
    n_sad = sum(len(v) for v in files['sad'].values())
    test_sad = round(TEST_FRACTION * n_sad)
    for person in sorted(files['sad'], key=seeded):
        names = files['sad'][person]
        s = 'test' if len(chosen['test', 'sad']) + len(names) <= test_sad else 'train'
        side[person] = s
        chosen[s, 'sad'].extend(names)
    need = {'test': len(chosen['test', 'sad']), 'train': len(chosen['train', 'sad'])}

    # Happy: round k takes the k-th image of every identity, identities in hash order.
    people = sorted(files['happy'], key=seeded)
    k = 0
    while any(len(chosen[s, 'happy']) < need[s] for s in need):
        progress = False
        for person in people:
            names = files['happy'][person]
            if k >= len(names):
                continue
            s = side.get(person)
            if s is None:
                s = 'test' if len(chosen['test', 'happy']) < need['test'] else 'train'
            if len(chosen[s, 'happy']) >= need[s]:
                continue
            side[person] = s
            chosen[s, 'happy'].append(names[k])
            progress = True
        if not progress and all(k >= len(v) for v in files['happy'].values()):
            raise SystemExit('not enough happy images')
        k += 1

    for s in ('train', 'test'):
        shutil.rmtree(os.path.join(dst, s), ignore_errors=True)
    total = 0
    for (s, cls), names in sorted(chosen.items()):
        out_dir = os.path.join(dst, s, cls)
        os.makedirs(out_dir)
        for name in sorted(names):
            with Image.open(os.path.join(src, cls, name)) as im:
                im = im.convert('L')
                w, h = im.size
                e = min(w, h)
                left, top = (w - e) // 2, (h - e) // 2
                im = im.crop((left, top, left + e, top + e))
                im = im.resize((SIZE, SIZE), Image.LANCZOS)
                path = os.path.join(out_dir, name)
                im.save(path, 'JPEG', quality=QUALITY, optimize=True, progressive=False)
            total += os.path.getsize(path)
        print(f'{s}/{cls}: {len(names)} images')
    print(f'{sum(map(len, chosen.values()))} images, {total} bytes of JPEG')


if __name__ == '__main__':
    main()
