"""Stretch pictures: every stretch has a pose and alt text (else content fails to load, in one line), and
every picture renders to a valid PNG/GIF of the stated size with the figure drawn inside the frame,
distinct per stretch, byte-for-byte deterministic, drawn once and then served from the disk cache."""

from __future__ import annotations

import io
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageChops

from bot.cli import main as cli_main
from bot.pictures import Picture, PictureStore, default_cache_dir
from bot.pictures.draw import INK
from dialogs.content import ContentError, load_content
from dialogs.poses import Figure, Limb, between, skeleton

CONTENT_FILES = (
    "sources.yaml",
    "stretches.yaml",
    "routines.yaml",
    "triage.yaml",
    "phrases.yaml",
    "places.yaml",
    "poses.yaml",
)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> tuple[PictureStore, list[Picture]]:
    # laid out like the default cache under $XDG_CACHE_HOME, so the command's test can reuse the drawings
    store = PictureStore(load_content(), tmp_path_factory.mktemp("xdg") / "stretchbot" / "pictures")
    return store, store.render_all()


def _ink_mask(image: Image.Image, who: str) -> Image.Image:
    """255 where a pixel is (nearly) the figure colour of `who`, 0 elsewhere."""
    bands = [
        band.point(lambda v, t=t: 255 if abs(v - t) <= 24 else 0)
        for band, t in zip(image.convert("RGB").split(), INK[who], strict=True)
    ]
    return ImageChops.darker(ImageChops.darker(bands[0], bands[1]), bands[2])


# --- every stretch has a picture ------------------------------------------------------------------------
def test_every_stretch_has_a_pose_with_alt_text() -> None:
    content = load_content()
    assert set(content.poses) == set(content.stretches)
    for stretch_id, pose in content.poses.items():
        assert len(pose.alt) >= 20 and pose.alt[-1] == ".", stretch_id
    assert {"cat_cow", "knee_to_chest"} <= {s for s, p in content.poses.items() if p.animated}


def test_partner_stretches_draw_two_people() -> None:
    content = load_content()
    for stretch_id, stretch in content.stretches.items():
        for keyframe in content.poses[stretch_id].keyframes:
            people = sorted(figure.who for figure in keyframe.figures)
            assert people == (["partner", "you"] if "partner" in stretch.tags else ["you"]), stretch_id


def test_the_massage_marks_the_muscles_beside_the_spine_not_the_spine() -> None:
    pose = load_content().poses["gentle_massage"]
    assert pose.view == "above" and len(pose.zones) == 2 and len(pose.avoid) == 1
    spine = pose.avoid[0]
    spine_y = spine[0][1]
    assert all(y == spine_y for _, y in spine), "the spine line is straight along the body"
    above, below = sorted(pose.zones, key=lambda zone: zone[1], reverse=True)
    assert above[1] > spine_y > below[3], "one zone either side of the spine, neither touching it"
    helper = next(f for f in pose.keyframes[0].figures if f.who == "you")
    for hand in skeleton(helper, pose.view).arms:
        x, y = hand.end
        inside = [z for z in pose.zones if z[0] <= x <= z[2] and z[1] <= y <= z[3]]
        assert inside, f"hand at {hand.end} is on a marked zone"


# --- broken content: one precise line -------------------------------------------------------------------
def _edit_poses(directory: Path, change) -> None:
    path = directory / "poses.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data["poses"])
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def _error(directory: Path) -> str:
    with pytest.raises(ContentError) as caught:
        load_content(directory)
    message = str(caught.value)
    assert "\n" not in message
    return message


def _index(directory: Path, stretch_id: str) -> int:
    poses = yaml.safe_load((directory / "poses.yaml").read_text(encoding="utf-8"))["poses"]
    return next(i for i, pose in enumerate(poses) if pose["stretch"] == stretch_id)


def test_a_stretch_without_a_pose(content_dir: Path) -> None:
    index = _index(content_dir, "hamstring")
    _edit_poses(content_dir, lambda poses: poses.pop(index))
    assert _error(content_dir) == (
        f"{content_dir}/poses.yaml: poses: no pose for stretch 'hamstring' "
        "(every stretch needs a picture and its alt text)"
    )


def test_a_pose_without_alt_text(content_dir: Path) -> None:
    _edit_poses(content_dir, lambda poses: poses[2].pop("alt"))
    assert _error(content_dir) == f"{content_dir}/poses.yaml: poses[2].alt: is required"


def test_a_pose_for_an_unknown_stretch(content_dir: Path) -> None:
    def add(poses: list) -> None:
        poses.append({**poses[0], "stretch": "handstand"})

    _edit_poses(content_dir, add)
    count = len(yaml.safe_load((content_dir / "poses.yaml").read_text())["poses"])
    assert _error(content_dir) == f"{content_dir}/poses.yaml: poses[{count - 1}].stretch: unknown stretch 'handstand'"


def test_two_poses_for_one_stretch(content_dir: Path) -> None:
    _edit_poses(content_dir, lambda poses: poses.insert(1, dict(poses[0])))
    assert _error(content_dir) == f"{content_dir}/poses.yaml: poses[1].stretch: a second pose for 'knee_to_chest'"


def test_a_figure_outside_the_frame(content_dir: Path) -> None:
    # knee_to_chest's first position is all angles: lifting it 50 units lifts the head out of the top
    _edit_poses(content_dir, lambda poses: poses[0]["keyframes"][0]["figures"][0].update(hips=[60, 73.6]))
    assert _error(content_dir) == (
        f"{content_dir}/poses.yaml: poses[0].keyframes[0].figures[0]: "
        "head at (30.1, 73.6) is outside the frame (0..100 x 0..75)"
    )


def test_a_hand_sent_beyond_the_arm(content_dir: Path) -> None:
    index = _index(content_dir, "childs_pose")
    _edit_poses(content_dir, lambda poses: poses[index]["keyframes"][0]["figures"][0]["arms"][0].update(to=[95, 21]))
    message = _error(content_dir)
    assert message.startswith(f"{content_dir}/poses.yaml: poses[{index}].keyframes[0].figures[0].arms[0].to: is ")
    assert message.endswith(" units beyond the limb's reach")


def test_a_partner_stretch_with_one_person(content_dir: Path) -> None:
    index = _index(content_dir, "gentle_massage")
    _edit_poses(content_dir, lambda poses: poses[index]["keyframes"][0]["figures"].pop(0))
    assert _error(content_dir) == (
        f"{content_dir}/poses.yaml: poses[{index}].keyframes[0].figures: "
        "a partner stretch shows two people: one `who: you` and one `who: partner`"
    )


def test_a_limb_with_neither_angles_nor_target(content_dir: Path) -> None:
    _edit_poses(content_dir, lambda poses: poses[0]["keyframes"][0]["figures"][0]["arms"].__setitem__(0, {}))
    assert _error(content_dir) == (
        f"{content_dir}/poses.yaml: poses[0].keyframes[0].figures[0].arms[0]: "
        "needs either angles or `to` (the point the hand or ankle reaches), not both"
    )


# --- the rendered files ----------------------------------------------------------------------------------
def test_every_picture_is_a_valid_file_of_the_stated_size(rendered: tuple[PictureStore, list[Picture]]) -> None:
    store, pictures = rendered
    content = store.content
    assert {p.stretch_id for p in pictures if p.keyframe is None} == set(content.stretches)
    for picture in pictures:
        with Image.open(picture.path) as image:
            assert image.size == (picture.width, picture.height) == (800, 600)
            if picture.kind == "animation":
                assert image.format == "GIF" and image.is_animated and image.n_frames >= 10
                assert image.info.get("loop") == 0, "loops forever"
            else:
                assert image.format == "PNG"
            assert picture.alt == content.poses[picture.stretch_id].alt


def test_every_frame_has_the_figure_drawn_inside_the_frame(rendered: tuple[PictureStore, list[Picture]]) -> None:
    store, pictures = rendered
    for picture in pictures:
        partner = "partner" in store.content.stretches[picture.stretch_id].tags
        with Image.open(picture.path) as image:
            for index in range(getattr(image, "n_frames", 1)):
                image.seek(index)
                frame = image.convert("RGB")
                for who in ("you", "partner"):
                    mask = _ink_mask(frame, who)
                    box = mask.getbbox()
                    if who == "partner" and not partner:
                        assert box is None, f"{picture.path.name}: only one person"
                        continue
                    assert box is not None, f"{picture.path.name} frame {index}: {who} drawn"
                    share = mask.histogram()[255] / (800 * 600)
                    assert share > 0.01, f"{picture.path.name} frame {index}: {who} is a real figure ({share:.3f})"
                    left, top, right, bottom = box
                    assert left > 0 and top > 0 and right < 800 and bottom < 600, (picture.path.name, index, box)


def test_two_stretches_never_share_a_picture(rendered: tuple[PictureStore, list[Picture]]) -> None:
    _, pictures = rendered
    assert len({p.digest for p in pictures}) == len(pictures)
    assert len({p.path.read_bytes() for p in pictures}) == len(pictures)
    # not only the titles differ: the drawings below the title do too (an animation starts on the same
    # frame as the still of its first position, so stills and animations are compared apart)
    for group in ([p for p in pictures if p.keyframe is None], [p for p in pictures if p.keyframe is not None]):
        drawings = set()
        for picture in group:
            with Image.open(picture.path) as image:
                drawings.add(image.convert("RGB").crop((0, 100, 800, 600)).tobytes())
        assert len(drawings) == len(group) >= 3


def test_rendering_is_deterministic_across_fresh_caches(rendered, tmp_path: Path) -> None:
    store, _ = rendered
    again = PictureStore(store.content, tmp_path / "fresh")
    for stretch_id in ("cat_cow", "gentle_massage"):  # an animation and a photo
        fresh = again.picture(stretch_id)
        first = store.picture(stretch_id)
        assert fresh.path != first.path and fresh.path.read_bytes() == first.path.read_bytes()
        assert fresh.digest == first.digest
    assert again.renders == 2


def test_the_disk_cache_is_used(rendered, tmp_path: Path) -> None:
    store, pictures = rendered
    assert store.renders == len(pictures), "each file drawn exactly once"
    before = {p.path: p.path.stat().st_mtime_ns for p in pictures}
    assert store.picture("cat_cow") is store.picture("cat_cow")
    later = PictureStore(store.content, store.cache_dir)  # a restart: a new store on the same cache
    assert later.render_all() == pictures
    assert later.renders == 0
    assert {p.path: p.path.stat().st_mtime_ns for p in pictures} == before


def test_a_changed_pose_gets_a_new_file(rendered, content_dir: Path) -> None:
    store, _ = rendered
    index = _index(content_dir, "childs_pose")
    _edit_poses(content_dir, lambda poses: poses[index].update(alt="A person kneels and sits back on the heels."))
    changed = PictureStore(load_content(content_dir), store.cache_dir)
    assert changed.picture("childs_pose").digest != store.picture("childs_pose").digest
    assert changed.picture("hamstring").path == store.picture("hamstring").path
    assert changed.renders == 1


def test_creating_a_store_draws_and_writes_nothing(tmp_path: Path) -> None:
    store = PictureStore(load_content(), tmp_path / "cache")
    assert store.renders == 0 and not (tmp_path / "cache").exists()
    with pytest.raises(KeyError, match="handstand"):
        store.picture("handstand")


def test_default_cache_dir() -> None:
    assert default_cache_dir({"XDG_CACHE_HOME": "/var/cache/x"}) == Path("/var/cache/x/stretchbot/pictures")
    assert default_cache_dir({}) == Path.home() / ".cache" / "stretchbot" / "pictures"


def test_render_pictures_command(rendered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    store, pictures = rendered
    monkeypatch.setenv("XDG_CACHE_HOME", str(store.cache_dir.parent.parent))
    assert cli_main(["render-pictures", "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    files = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert "cat_cow.gif" in files and "cat_cow-1.png" in files and "childs_pose.png" in files
    assert len(lines) == len(files) + 1
    assert all(line.startswith(str(tmp_path / "out")) and "800x600" in line for line in lines[:-1])
    assert len(files) == len(pictures)
    assert lines[-1].startswith(f"{len(files)} pictures (0 drawn, {len(files)} from the cache {store.cache_dir})")
    assert lines[-1].endswith(" s")
    for picture in pictures:  # the copies are the cached files
        name = (
            picture.stretch_id + ("" if picture.keyframe is None else f"-{picture.keyframe + 1}") + picture.path.suffix
        )
        assert (tmp_path / "out" / name).read_bytes() == picture.path.read_bytes()


# --- in-between frames keep the body whole --------------------------------------------------------------
_angle = st.floats(-180, 180, allow_nan=False)
_limb = st.builds(lambda a, b: Limb(angles=(a, b)), _angle, _angle)
_figure = st.builds(
    lambda x, y, torso, bend, arms, legs: Figure(hips=(x, y), torso=torso, bend=bend, arms=arms, legs=legs),
    st.floats(20, 80),
    st.floats(20, 55),
    _angle,
    st.floats(-8, 8),
    st.tuples(_limb, _limb),
    st.tuples(_limb, _limb),
)


@settings(max_examples=60, deadline=None)
@given(_figure, _figure, st.floats(0, 1))
def test_in_between_frames_keep_every_limb_its_length(a: Figure, b: Figure, t: float) -> None:
    for view in ("side", "above"):
        start, middle = skeleton(a, view), skeleton(between(a, b, t, view), view)
        for chains_a, chains_m in ((start.arms, middle.arms), (start.legs, middle.legs)):
            for chain_a, chain_m in zip(chains_a, chains_m, strict=True):
                for p, q in ((0, 1), (1, 2)):
                    ends_a = (chain_a.root, chain_a.middle, chain_a.end)
                    ends_m = (chain_m.root, chain_m.middle, chain_m.end)
                    assert math.isclose(math.dist(ends_a[p], ends_a[q]), math.dist(ends_m[p], ends_m[q]), abs_tol=1e-6)
    for start, end in ((a, 0.0), (b, 1.0)):
        exact, mixed = skeleton(start, "side").extents(), skeleton(between(a, b, end, "side"), "side").extents()
        assert all(math.dist(p, q) < 1e-6 for (_, p, _), (_, q, _) in zip(exact, mixed, strict=True))


def test_gif_bytes_decode(rendered: tuple[PictureStore, list[Picture]]) -> None:
    _, pictures = rendered
    animation = next(p for p in pictures if p.kind == "animation")
    with Image.open(io.BytesIO(animation.path.read_bytes())) as image:
        durations = []
        for index in range(image.n_frames):
            image.seek(index)
            durations.append(image.info["duration"])
    assert 2000 <= sum(durations) <= 8000, "one slow round of the movement"


def test_held_hands_stay_together_and_hands_on_the_floor_stay_put_through_the_movement() -> None:
    poses = load_content().poses
    v_stretch, cat_cow = poses["partner_v_stretch"], poses["cat_cow"]
    for step in range(11):
        t = step / 10
        you, partner = (
            skeleton(between(a, b, t, "side"), "side")
            for a, b in zip(v_stretch.keyframes[0].figures, v_stretch.keyframes[1].figures, strict=True)
        )
        for mine, theirs in zip(you.arms, partner.arms, strict=True):
            assert math.dist(mine.end, theirs.end) < 0.5, f"hands apart at t={t}"
        body = skeleton(between(cat_cow.keyframes[0].figures[0], cat_cow.keyframes[1].figures[0], t, "side"), "side")
        assert all(math.dist(arm.end, (55.5, 21.2)) < 0.5 for arm in body.arms), f"hands slid at t={t}"
