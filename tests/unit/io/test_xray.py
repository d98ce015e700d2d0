"""X-ray reading: displayed grey levels (MONOCHROME1, window, palette), spacing fallbacks, refusals."""

import warnings

import numpy as np
import pytest
from PIL import Image

from medseg.errors import InputError
from medseg.io.xray import GeometryWarning, XRayReader, read_xray, read_xray_grid
from tests.xray_helpers import write_dicom

RAMP = (np.arange(48, dtype=np.uint16).reshape(6, 8) * 80)  # 12-bit values, rows x cols


def test_monochrome1_is_inverted_so_bone_is_bright(tmp_path):
    mono2 = read_xray(write_dicom(tmp_path / "m2.dcm", RAMP, PixelSpacing=[0.2, 0.2])).pixels
    mono1 = read_xray(write_dicom(tmp_path / "m1.dcm", RAMP, "MONOCHROME1", PixelSpacing=[0.2, 0.2])).pixels
    np.testing.assert_array_equal(mono2, RAMP)
    np.testing.assert_array_equal(mono1, RAMP.max() + RAMP.min() - RAMP.astype(np.float32))
    assert mono1[0, 0] > mono1[-1, -1]  # the lowest stored value is displayed white


def test_rescale_and_window_are_applied_like_a_viewer(tmp_path):
    path = write_dicom(tmp_path / "w.dcm", RAMP, RescaleSlope=2, RescaleIntercept=-100, RescaleType="US",
                       WindowCenter=1000, WindowWidth=400, PixelSpacing=[0.2, 0.2])
    pixels = read_xray(path).pixels
    rescaled = RAMP * 2.0 - 100
    assert pixels[rescaled <= 800].max() == pixels.min()  # below the window: black
    assert pixels[rescaled >= 1200].min() == pixels.max()  # above the window: white
    inside = (rescaled > 820) & (rescaled < 1180)
    assert np.all(np.diff(pixels[inside]) > 0)  # linear inside the window


def test_16_bit_values_are_kept(tmp_path):
    values = np.array([[0, 40000], [65535, 1]], dtype=np.uint16)
    path = write_dicom(tmp_path / "b.dcm", values, bits=16, PixelSpacing=[1, 1])
    np.testing.assert_array_equal(read_xray(path).pixels, values)


def test_pixel_spacing_then_imager_spacing_then_one_mm_with_a_warning(tmp_path):
    both = write_dicom(tmp_path / "a.dcm", RAMP, PixelSpacing=[0.3, 0.2], ImagerPixelSpacing=[0.5, 0.5])
    assert read_xray_grid(both) == ((8, 6), (0.2, 0.3))  # (columns, rows), (x, y)
    imager = write_dicom(tmp_path / "b.dcm", RAMP, PixelSpacing=[0, 0], ImagerPixelSpacing=[0.15, 0.1])
    assert read_xray(imager).spacing == (0.1, 0.15)
    for name, tags in (("zero", {"PixelSpacing": [0, 0]}), ("none", {})):
        with pytest.warns(GeometryWarning, match="1.0 mm"):
            assert read_xray(write_dicom(tmp_path / f"{name}.dcm", RAMP, **tags)).spacing == (1.0, 1.0)


@pytest.mark.parametrize("syntax", ["RLELossless", "JPEG2000Lossless"])
def test_compressed_dicom_reads_to_the_same_pixels(tmp_path, syntax):
    import pydicom
    from pydicom import uid

    pixels = np.random.default_rng(0).integers(0, 4096, size=(64, 48), dtype=np.uint16)  # 12-bit
    plain = write_dicom(tmp_path / "plain.dcm", pixels, "MONOCHROME1", PixelSpacing=[0.2, 0.2])
    ds = pydicom.dcmread(plain)
    ds.compress(getattr(uid, syntax))
    ds.save_as(tmp_path / "packed.dcm")
    assert pydicom.dcmread(tmp_path / "packed.dcm").file_meta.TransferSyntaxUID == getattr(uid, syntax)
    np.testing.assert_array_equal(read_xray(tmp_path / "packed.dcm").pixels, read_xray(plain).pixels)


def test_palette_png_gives_displayed_grey_levels(tmp_path):
    grey = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    image = Image.fromarray(255 - grey, mode="L").convert("P")
    image.putpalette([v for g in range(256) for v in (255 - g,) * 3])
    image.save(tmp_path / "p.png")
    assert Image.open(tmp_path / "p.png").mode == "P"
    np.testing.assert_array_equal(read_xray(tmp_path / "p.png").pixels, grey)


def test_colour_and_multi_frame_inputs_are_refused_in_one_line(tmp_path):
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "colour.png")
    with pytest.raises(InputError, match="colour image"):
        read_xray(tmp_path / "colour.png")
    grey_rgb = np.repeat(np.arange(16, dtype=np.uint8).reshape(4, 4, 1), 3, axis=2)
    Image.fromarray(grey_rgb).save(tmp_path / "grey_rgb.png")
    np.testing.assert_array_equal(read_xray(tmp_path / "grey_rgb.png").pixels, grey_rgb[..., 0])
    frames = write_dicom(tmp_path / "mf.dcm", np.vstack([RAMP, RAMP]), NumberOfFrames=2)
    with pytest.raises(InputError, match="multi-frame"):
        read_xray(frames)
    with pytest.raises(InputError, match="not a readable|holds no image"):
        (tmp_path / "bad.dcm").write_bytes(b"\0" * 128 + b"DICM" + b"\1" * 20)
        read_xray(tmp_path / "bad.dcm")


def test_monai_loadimage_gives_x_first_arrays_and_the_grid_affine(tmp_path):
    from monai.transforms import LoadImage

    path = write_dicom(tmp_path / "a.dcm", RAMP, PixelSpacing=[0.3, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        image = LoadImage(reader=XRayReader(), ensure_channel_first=True, image_only=True)(str(path))
    assert tuple(image.shape) == (1, 8, 6)  # channel, x (columns), y (rows)
    np.testing.assert_array_equal(image[0].numpy(), RAMP.T)
    np.testing.assert_allclose(image.affine.numpy(), np.diag([-0.2, -0.3, 1, 1]))


@pytest.mark.real_data
def test_real_monochrome1_chest_with_zero_spacing(shared_data):
    path = shared_data / "dicom" / "cr_chest_pydicom_data" / "RG1_UNCR.dcm"
    with pytest.warns(GeometryWarning):
        image = read_xray(path)
    assert image.shape_xy == (1841, 1955) and image.spacing == (1.0, 1.0)
    rows = image.pixels.shape[0]
    # Displayed as on a viewer: the mediastinum/spine column is brighter than the lung fields beside it.
    centre = image.pixels[rows // 3: 2 * rows // 3, 880:960].mean()
    lung = image.pixels[rows // 3: 2 * rows // 3, 400:600].mean()
    assert centre > lung
