"""Image and tensor data: .npz / .npy / ImageFolder sources, the Fashion-MNIST idx reader, and build_cnn.

The sources' record ids and membership must round-trip exactly (the issue's "image data source's
ids and membership" test); hostile files end in one DataError line naming the file and the fix.
"""

from __future__ import annotations

import gzip
import subprocess
import sys

import numpy as np
import pytest

from privaudit.data import load_audit_data
from privaudit.datasets import fashion_mnist
from privaudit.datasets.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, read_idx
from privaudit.exceptions import CapabilityError, ConfigError, DataError

RNG = np.random.default_rng(3)
N = 60
IMAGES = RNG.integers(0, 256, (N, 3, 6, 5)).astype(np.uint8)
LABELS = RNG.integers(0, 4, N)
IDS = np.array([f"img-{i:03d}" for i in RNG.permutation(N)])
ROLES = RNG.choice(["member", "nonmember", "population", ""], N)


def _expected_positions(roles, role):
    return np.flatnonzero(roles == role)


def test_npz_ids_membership_and_pixels_round_trip(tmp_path):
    path = tmp_path / "data.npz"
    np.savez(path, images=IMAGES, labels=LABELS, ids=IDS, split=ROLES)
    data = load_audit_data(path, label="labels", id_column="ids", membership_column="split")
    assert data.records.image_shape == (3, 6, 5)
    assert list(data.records.ids) == list(IDS)
    for role, attribute in (("member", "members"), ("nonmember", "nonmembers"), ("population", "population")):
        assert np.array_equal(getattr(data, attribute), _expected_positions(ROLES, role))
    pixels = data.records.features.to_numpy(np.float32).reshape(N, *data.records.image_shape)
    assert pixels.dtype == np.float32 and np.array_equal(pixels, IMAGES.astype(np.float32))
    assert data.records.classes == (0, 1, 2, 3) and np.array_equal(data.records.labels, LABELS)
    assert data.records.subset(data.members).image_shape == (3, 6, 5)


def test_npy_with_sibling_arrays_and_index_files(tmp_path):
    np.save(tmp_path / "images.npy", IMAGES[:, 0])  # (n, H, W): one channel
    np.save(tmp_path / "labels.npy", np.array(FASHION_MNIST_CLASSES)[LABELS])
    np.save(tmp_path / "ids.npy", IDS)
    (tmp_path / "in.txt").write_text("\n".join(IDS[:10]) + "\n")
    (tmp_path / "out.txt").write_text("\n".join(IDS[10:40]) + "\n")
    (tmp_path / "pop.txt").write_text("\n".join(IDS[40:]) + "\n")
    data = load_audit_data(tmp_path / "images.npy", label="labels", id_column="ids.npy", members_file=tmp_path / "in.txt",
                           nonmembers_file=tmp_path / "out.txt", population_file=tmp_path / "pop.txt", classes=list(FASHION_MNIST_CLASSES))
    assert data.records.image_shape == (1, 6, 5)
    assert np.array_equal(data.members, np.arange(10)) and np.array_equal(data.nonmembers, np.arange(10, 40))
    assert np.array_equal(data.population, np.arange(40, N))
    assert [data.records.classes[i] for i in data.records.labels] == [FASHION_MNIST_CLASSES[i] for i in LABELS]


def test_two_channels_first_are_not_mistaken_for_channels_last(tmp_path):
    np.savez(tmp_path / "two.npz", images=IMAGES[:, :2, :, :4], labels=LABELS, split=ROLES)  # (n, 2, 6, 4): W = 4 looks like RGBA
    assert load_audit_data(tmp_path / "two.npz", label="labels", membership_column="split").records.image_shape == (2, 6, 4)


def test_flat_vectors_have_no_image_shape(tmp_path):
    np.savez(tmp_path / "x.npz", images=RNG.normal(size=(N, 7)), labels=LABELS, split=ROLES)
    data = load_audit_data(tmp_path / "x.npz", label="labels", membership_column="split")
    assert data.records.image_shape is None and data.records.features.shape == (N, 7)
    assert list(data.records.ids) == [str(i) for i in range(N)]


def _write_folder(root, images, classes):
    from PIL import Image

    paths = []
    for i, (image, label) in enumerate(zip(images, classes)):
        (root / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / label / f"{i:03d}.png")
        paths.append(f"{label}/{i:03d}.png")
    return paths


def test_image_folder_ids_membership_and_pixels(tmp_path):
    root = tmp_path / "images"
    grey = IMAGES[:12, 0]
    paths = _write_folder(root, grey, ["coat", "bag", "shirt"] * 4)
    (tmp_path / "m.txt").write_text("\n".join(paths[:5]))
    (tmp_path / "n.txt").write_text("\n".join(paths[5:]))
    data = load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    assert data.records.image_shape == (1, 6, 5) and data.records.classes == ("bag", "coat", "shirt")
    ids = list(data.records.ids)
    assert sorted(ids) == ids and set(ids) == set(paths)
    assert [ids[i] for i in data.members] == paths[:5] and [ids[i] for i in data.nonmembers] == paths[5:]
    for position, path in enumerate(ids):
        pixels = data.records.features.iloc[position].to_numpy().reshape(6, 5)
        assert np.allclose(pixels, grey[paths.index(path)] / 255.0)
        assert data.records.classes[data.records.labels[position]] == path.split("/")[0]


def _error(tmp_path, **arrays):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(DataError) as info:
        load_audit_data(path, label="labels", membership_column="split")
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    return message


@pytest.mark.parametrize(("arrays", "expected"), [
    ({"images": IMAGES.astype(object), "labels": LABELS, "split": ROLES}, "never loads"),
    ({"images": IMAGES.astype(np.complex64), "labels": LABELS, "split": ROLES}, "real numbers"),
    ({"images": np.where(np.arange(N)[:, None, None, None] == 7, np.nan, IMAGES.astype(float)), "labels": LABELS, "split": ROLES}, "NaN"),
    ({"images": IMAGES, "labels": LABELS[:-1], "split": ROLES}, f"there are {N} images"),
    ({"images": IMAGES, "labels": LABELS.astype(float), "split": ROLES}, "integers or strings"),
    ({"images": IMAGES.transpose(0, 2, 3, 1), "labels": LABELS, "split": ROLES}, "channels first"),
    ({"images": IMAGES[:, :, :, :, None], "labels": LABELS, "split": ROLES}, "shape"),
    ({"pixels": IMAGES, "labels": LABELS, "split": ROLES}, "no array 'images'"),
    ({"images": IMAGES, "labels": LABELS, "split": np.array(["maybe"] * N)}, "unknown values"),
    ({"images": IMAGES, "labels": np.where(np.arange(N) == 4, "", LABELS.astype(str)), "split": ROLES}, "1 labels are empty (first: row 4)"),
])
def test_hostile_arrays_are_one_line_errors(tmp_path, arrays, expected):
    assert expected in _error(tmp_path, **arrays)


def test_hostile_files_are_one_line_errors(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"not a zip at all")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    for path in (tmp_path / "junk.npz", tmp_path / "junk.npy", tmp_path / "absent.npz"):
        with pytest.raises(DataError, match=str(path)):
            load_audit_data(path, label="labels", membership_column="split")
    from PIL import Image

    root = tmp_path / "folder"
    _write_folder(root, IMAGES[:3, 0], ["a", "b", "a"])
    Image.fromarray(np.zeros((9, 9), np.uint8)).save(root / "b" / "odd.png")  # another size
    (tmp_path / "m.txt").write_text("a/000.png\n")
    (tmp_path / "n.txt").write_text("b/001.png\n")
    with pytest.raises(DataError, match="odd.png.*same size"):
        load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    (root / "b" / "odd.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(DataError, match="odd.png.*not a readable image"):
        load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    Image.new("1", (5000, 5000)).save(root / "b" / "odd.png")  # a small file that decodes to 25 M pixels
    with pytest.raises(DataError, match="odd.png.*more than"):
        load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    with pytest.raises(DataError, match="set data.label to 'class'"):
        load_audit_data(root, label="labels", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")


def _idx(path, magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(int(d).to_bytes(4, "big") for d in dims)
    with gzip.open(path, "wb") as stream:
        stream.write(header + payload)
    return path


def test_idx_reader_checks_magic_dimensions_and_size(tmp_path):
    images = RNG.integers(0, 256, (5, 28, 28)).astype(np.uint8)
    good = _idx(tmp_path / "good.gz", 0x803, (5, 28, 28), images.tobytes())
    assert np.array_equal(read_idx(good, magic=0x803, shape=(None, 28, 28)), images)
    with pytest.raises(DataError, match="magic number 0x00000801, expected 0x00000803"):
        read_idx(_idx(tmp_path / "labels.gz", 0x801, (5,), bytes(5)), magic=0x803, shape=(None, 28, 28))
    with pytest.raises(DataError, match=r"dimensions \(5, 27, 28\)"):
        read_idx(_idx(tmp_path / "small.gz", 0x803, (5, 27, 28), bytes(5 * 27 * 28)), magic=0x803, shape=(None, 28, 28))
    with pytest.raises(DataError, match="data bytes where the header promises"):
        read_idx(_idx(tmp_path / "count.gz", 0x803, (6, 28, 28), images.tobytes()), magic=0x803, shape=(None, 28, 28))
    truncated = tmp_path / "truncated.gz"
    truncated.write_bytes(good.read_bytes()[:-20])
    with pytest.raises(DataError, match="truncated.gz: the gzip stream is truncated"):
        read_idx(truncated, magic=0x803, shape=(None, 28, 28))
    (tmp_path / "plain.gz").write_bytes(b"not gzip")
    with pytest.raises(DataError, match=r"plain.gz: the gzip stream is corrupt \(Not a gzipped file"):
        read_idx(tmp_path / "plain.gz", magic=0x803, shape=(None, 28, 28))


def test_missing_fashion_mnist_says_how_to_install(tmp_path, monkeypatch):
    with pytest.raises(CapabilityError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test", directory=tmp_path / "absent")
    (tmp_path / "partial").mkdir()
    with pytest.raises(CapabilityError, match="apt-get install dataset-fashion-mnist"):
        load_fashion_mnist("test", directory=tmp_path / "partial")
    code = (f"import privaudit.datasets.fashion_mnist as f, pathlib; f.FASHION_MNIST_DIR = pathlib.Path({str(tmp_path / 'absent')!r}); "
            "from privaudit.cli import main; main()")
    completed = subprocess.run([sys.executable, "-c", code, "demo", "--images", "--small", "--out", str(tmp_path / "demo")],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2, completed.stderr
    assert "apt-get install dataset-fashion-mnist" in completed.stderr and len(completed.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "demo").exists()


def test_installed_fashion_mnist_test_split():
    """The Debian package (.ci/run installs it): 10,000 test images, 1,000 per class, in the documented class order."""
    images, labels = load_fashion_mnist("test")
    assert images.shape == (10_000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [1_000] * 10 and len(FASHION_MNIST_CLASSES) == 10
    assert fashion_mnist.FASHION_MNIST_DIR.is_dir()


def test_build_cnn_takes_flat_pixels_and_is_a_builtin_factory():
    import torch
    from privaudit.models import build_cnn
    from privaudit.trust import BUILTIN_FACTORIES

    net = build_cnn([3, 6, 5], 4, channels=[4], hidden=8, dropout=0.1)
    assert isinstance(net[0], torch.nn.Unflatten)
    assert net(torch.zeros(2, 90)).shape == (2, 4)
    assert "privaudit.models:build_cnn" in BUILTIN_FACTORIES
    with pytest.raises(ConfigError, match="image_shape"):
        build_cnn([28, 28], 10)
    with pytest.raises(ConfigError, match="shrink"):
        build_cnn([1, 4, 4], 10, channels=[2, 2, 2])


def test_cnn_recipes_train_one_at_a_time_and_the_ensemble_backend_refuses_them_in_one_line():
    from privaudit.models import TrainingConfig
    from privaudit.reference.backend_choice import choose_local_backend
    from privaudit.reference.ensemble import EnsembleRecipe
    from privaudit.reference.recipes import TorchRecipe

    recipe = TorchRecipe("privaudit.models:build_cnn", {"image_shape": [1, 6, 5], "n_classes": 4, "channels": [4], "hidden": 8},
                         TrainingConfig(epochs=1))
    backend, reason = choose_local_backend(recipe, 8, n_jobs=2)
    assert backend == "process" and "only build_mlp" in reason
    with pytest.raises(ConfigError, match="build_cnn.*use backend 'sequential' or 'process'"):
        EnsembleRecipe(recipe)


def test_demo_flags_are_checked(capsys):
    from privaudit.cli import main

    for argv, expected in ((["demo", "--small"], "--small goes with --llm or --images"), (["demo", "--llm", "--images"], "choose one"),
                           (["demo", "--images", "--small", "--reference-models", "0"], "--images trains 4 (--small) or 12 reference models by design"),
                           (["demo", "--llm", "--reference-models", "16"], "--reference-models applies to the Adult demo")):
        with pytest.raises(SystemExit) as exit_info:
            main(argv)
        assert exit_info.value.code == 2
        assert expected in capsys.readouterr().err


def test_oversized_arrays_are_refused_before_loading(tmp_path, monkeypatch):
    from privaudit import image_files

    np.savez(tmp_path / "big.npz", images=IMAGES, labels=LABELS, split=ROLES)
    np.save(tmp_path / "big.npy", IMAGES)
    monkeypatch.setattr(image_files, "MAX_ARRAY_BYTES", IMAGES.nbytes // 2)
    with pytest.raises(DataError, match="big.npz: expands to .* bytes, more than the"):
        load_audit_data(tmp_path / "big.npz", label="labels", membership_column="split")
    with pytest.raises(DataError, match="big.npy: .* bytes, more than the"):
        load_audit_data(tmp_path / "big.npy", label="labels", membership_column="split")


def test_training_augmentation_flips_and_shifts_each_image_with_reflection():
    import torch

    from privaudit.models import ImageAugmentation, augment_batch

    images = RNG.normal(size=(400, 2, 5, 4)).astype(np.float32)
    augmentation = ImageAugmentation((2, 5, 4), flip=True, shift=1)
    out = augment_batch(torch, torch.from_numpy(images.reshape(400, -1)), augmentation, torch.Generator().manual_seed(0)).numpy()
    seen = set()
    for image, augmented in zip(images, out.reshape(400, 2, 5, 4)):
        matches = []
        for flip in (False, True):
            padded = np.pad(image[..., ::-1] if flip else image, ((0, 0), (1, 1), (1, 1)), mode="reflect")
            for dy in range(3):
                for dx in range(3):
                    if np.array_equal(padded[:, dy : dy + 5, dx : dx + 4], augmented):
                        matches.append((flip, dy, dx))
        assert len(matches) == 1, matches  # exactly one mirror/shift of the image
        seen.add(matches[0])
    assert len(seen) == 18  # every mirror × shift occurs among 400 draws
    with pytest.raises(ConfigError, match="nothing would change"):
        ImageAugmentation((1, 5, 4), flip=False, shift=0)


def test_training_augment_in_a_reference_recipe_config():
    from privaudit.models import ImageAugmentation
    from privaudit.reference.recipes import TorchRecipe
    from privaudit.targets.config_base import TrainingRecipeConfig

    recipe = TrainingRecipeConfig(epochs=3, augment={"image_shape": [1, 6, 5], "flip": True, "shift": 1})
    assert recipe.to_training_config().augment == ImageAugmentation((1, 6, 5), True, 1)
    kwargs = {"image_shape": [1, 6, 5], "n_classes": 2, "channels": [2], "hidden": 4}
    plain = TorchRecipe("privaudit.models:build_cnn", kwargs, TrainingRecipeConfig(epochs=3).to_training_config()).fingerprint()
    augmented = TorchRecipe("privaudit.models:build_cnn", kwargs, recipe.to_training_config()).fingerprint()
    assert "augment" not in plain["training"]  # keys of models trained without augmentation are unchanged
    assert augmented["training"]["augment"] == {"image_shape": (1, 6, 5), "flip": True, "shift": 1}
    with pytest.raises(Exception, match="image_shape"):
        TrainingRecipeConfig(augment={"image_shape": [28, 28]})


def _lying_npy(shape) -> bytes:
    import io

    stream = io.BytesIO()
    np.lib.format.write_array_header_1_0(stream, {"descr": "|u1", "fortran_order": False, "shape": shape})
    return stream.getvalue() + bytes(100)


def test_a_header_that_lies_about_its_shape_is_refused_before_allocating(tmp_path):
    """A 200-byte file declaring a terabyte must not reach numpy's allocation (a MemoryError traceback before the fix)."""
    import zipfile

    huge = (10**6, 1000, 1000)
    (tmp_path / "lie.npy").write_bytes(_lying_npy(huge))
    np.save(tmp_path / "labels.npy", LABELS)
    np.save(tmp_path / "split.npy", ROLES)
    with zipfile.ZipFile(tmp_path / "lie.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("images.npy", _lying_npy(huge))
        for key, values in (("labels", LABELS), ("split", ROLES)):
            with archive.open(f"{key}.npy", "w") as member:
                np.save(member, values)
    with zipfile.ZipFile(tmp_path / "raw.npz", "w") as archive:  # a member without the .npy magic: numpy hands back its bytes
        archive.writestr("images", b"not an array")
        for key, values in (("labels", LABELS), ("split", ROLES)):
            with archive.open(f"{key}.npy", "w") as member:
                np.save(member, values)
    with pytest.raises(DataError, match=r"raw.npz \['images'\]: not a readable .npy array"):
        load_audit_data(tmp_path / "raw.npz", label="labels", membership_column="split")
    for path, where in ((tmp_path / "lie.npy", "lie.npy"), (tmp_path / "lie.npz", "lie.npz ['images']")):
        with pytest.raises(DataError) as info:
            load_audit_data(path, label="labels", membership_column="split")
        message = str(info.value)
        assert where in message and "header declares shape (1000000, 1000, 1000)" in message and "\n" not in message


def test_image_folder_refuses_what_it_would_skip_or_read_from_outside(tmp_path):
    """Other file types, subfolders and links leading outside the root are refused in one line; 16-bit grey keeps its scale."""
    import os

    from PIL import Image

    root = tmp_path / "folder"
    _write_folder(root, IMAGES[:4, 0], ["a", "b", "a", "b"])
    (tmp_path / "m.txt").write_text("a/000.png\n")
    (tmp_path / "n.txt").write_text("b/001.png\n")

    def refused(expected):
        with pytest.raises(DataError) as info:
            load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
        assert expected in str(info.value) and "\n" not in str(info.value)

    (root / "a" / ".DS_Store").write_bytes(b"\x00\x01")  # hidden: ignored
    assert len(load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt").records.ids) == 4
    Image.fromarray(IMAGES[5, 0]).save(root / "a" / "005.bmp")
    refused("005.bmp: not a .png/.jpg/.jpeg image")
    (root / "a" / "005.bmp").unlink()
    (root / "a" / "nested").mkdir()
    refused("nested: a folder inside a class folder")
    (root / "a" / "nested").rmdir()
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.fromarray(IMAGES[6, 0]).save(outside / "secret.png")
    os.symlink(outside / "secret.png", root / "a" / "006.png")
    refused("006.png: a symbolic link to")
    (root / "a" / "006.png").unlink()
    os.symlink(outside, root / "c")
    refused("secret.png: a symbolic link to")
    (root / "c").unlink()
    os.symlink(root / "a" / "000.png", root / "b" / "007.png")  # a link inside the root is read like the file
    assert len(load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt").records.ids) == 5
    (root / "b" / "007.png").unlink()
    deep = np.full((6, 5), 60_000, np.uint16)
    for name in ("000", "002"):
        Image.fromarray(deep).save(root / "a" / f"{name}.png")  # 16-bit grey: was clipped to 1.0 by converting to 8 bits
    for name in ("001", "003"):
        Image.fromarray(deep // 2).save(root / "b" / f"{name}.png")
    data = load_audit_data(root, label="class", members_file=tmp_path / "m.txt", nonmembers_file=tmp_path / "n.txt")
    pixels = data.records.features.to_numpy(np.float32)
    row = {record_id: i for i, record_id in enumerate(data.records.ids)}
    assert np.allclose(pixels[row["a/000.png"]], 60_000 / 65_535) and np.allclose(pixels[row["b/001.png"]], 30_000 / 65_535)


def test_image_records_to_check_stay_images_and_refuse_a_fabricated_null(tmp_path):

    from privaudit.record_input import records_from_frame
    from privaudit.record_nulls import fabricate_null

    np.savez(tmp_path / "data.npz", images=IMAGES, labels=LABELS, ids=IDS, split=ROLES)
    data = load_audit_data(tmp_path / "data.npz", label="labels", id_column="ids", membership_column="split")
    frame = data.records.features.iloc[:3].copy()
    frame["labels"], frame["ids"] = LABELS[:3], IDS[:3]
    records = records_from_frame(frame, data, label="labels", id_column="ids")
    assert records.image_shape == (3, 6, 5) and list(records.ids) == list(IDS[:3])
    frame.loc[1, "pixel_7"] = np.nan  # was scored, and blamed on the target ("NaN or infinite logits")
    with pytest.raises(DataError, match=r"checked.csv: 1 records have NaN or infinite pixels \(first: row 2, column 'pixel_7'\)"):
        records_from_frame(frame, data, label="labels", id_column="ids", source="checked.csv")
    with pytest.raises(CapabilityError, match="--null fabricated draws tabular profiles, not images"):
        fabricate_null(data, "labels", 100, 0, [])
    from privaudit.person_check import check_persons

    scored = {"checked": np.zeros(3), "real": np.zeros(data.nonmembers.size), "members": np.zeros(data.members.size)}
    with pytest.raises(ConfigError, match=r"--person-column: image or array data \(.*data.npz\) carry no person ids"):  # said: set data.person_column
        check_persons(data, IDS[:3], scored, None, alpha=0.05, seed=0, null="real", notes=[])


def test_a_cnn_given_images_of_another_size_is_a_one_line_target_error():
    """Was a torch RuntimeError traceback (unflatten) from `privaudit audit` when data.path held 27 × 27 images for a 28 × 28 CNN."""
    import pandas as pd

    from privaudit.data import RecordSet
    from privaudit.exceptions import TargetError
    from privaudit.models import build_cnn
    from privaudit.targets import TorchTarget

    target = TorchTarget(build_cnn([1, 6, 5], 4, channels=[4], hidden=8), name="cnn")
    pixels = RNG.random((3, 25)).astype(np.float32)
    records = RecordSet(np.array(["a", "b", "c"]), pd.DataFrame(pixels), np.array([0, 1, 2]), (0, 1, 2, 3), image_shape=(1, 5, 5))
    with pytest.raises(TargetError, match=r"target 'cnn': the model cannot take these records, 25 values each \(images 1 × 5 × 5\)"):
        target.predict(records)
