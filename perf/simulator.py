"""Simulator throughput: lenstronomy (one image per call) vs caustics (batched) vs lensing/ (batched).

lensing/ is timed twice: ``lensing.render.render`` eagerly (``compile=False``, the path the v1
datasets were built with, axions as 100 point masses) and ``render(..., compile=True)`` (the same
pipeline in ``torch.compile``d blocks, with the axion vortex as the closed-form ``vortex`` group, as
the dataset builders render it; its first call compiles, and that time is reported separately).

Same parameter draws for all three, Model II-like recipe (SIE + external shear + elliptical Sersic
source, Gaussian PSF, no supersampling, no noise) for the classes no_sub, cdm (25 point masses) and
axion (100 equal point masses on a line), at 64x64 (Euclid-like 0.101"/px, FWHM 0.16") and 150x150
(Model I 0.05"/px, FWHM 0.087"). Also the peak RSS of a chunked dataset-building loop.

caustics is timed through its functional API (``caustics.lenses.func.reduced_deflection_angle_sie``,
``..._point``, ``..._external_shear`` and ``caustics.light.func.brightness_sersic``), with parameters
broadcast over the batch ((B, 1, 1) tensors) and point masses broadcast over (B, Kc, H, W) chunks
of 10 subhalos. caustics has no PSF operator in its functional API, so its timing uses the same
torch ``conv2d`` Gaussian kernel as lensing/ (its images are not compared pixel by pixel; SIE
parametrisations differ: caustics takes q, phi, Rein).

Run: ``python perf/simulator.py`` (writes the "simulator" section of perf/README.md and prints it);
``--quick`` for a short smoke run. torch uses 2 threads. Every contender gets one untimed warm-up
call first (lenstronomy jit-compiles some profiles with numba on first use).
"""

from __future__ import annotations

import argparse
import math  # noqa: F401
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lensbench.lensing import instruments, render
from lensbench.lensing import psf as lpsf

CLASSES = {"no_sub": 0, "cdm": 25, "axion": 100}


# ------------------------------------------------------------------------------ parameter draws
def draw(cls: str, n: int, seed: int) -> dict[str, np.ndarray]:
    """Model II-like parameters as numpy arrays (n,) / (n, K)."""
    rng = np.random.default_rng(seed)
    p = {"theta_E": rng.uniform(1.1, 1.45, n), "e1": rng.uniform(-0.2, 0.2, n), "e2": rng.uniform(-0.2, 0.2, n),
             "center_x": rng.uniform(-0.05, 0.05, n), "center_y": rng.uniform(-0.05, 0.05, n),
             "gamma1": rng.uniform(-0.08, 0.08, n), "gamma2": rng.uniform(-0.08, 0.08, n),
             "amp": rng.uniform(10, 30, n), "R_sersic": rng.uniform(0.15, 0.4, n), "n_sersic": rng.uniform(0.8, 2.0, n),
             "s_e1": rng.uniform(-0.2, 0.2, n), "s_e2": rng.uniform(-0.2, 0.2, n),
             "s_x": rng.uniform(-0.35, 0.35, n), "s_y": rng.uniform(-0.35, 0.35, n)}
    K = CLASSES[cls]
    if cls == "cdm":
        # theta_E ~ sqrt(m): m ~ m^-0.9 on [1e6, 1e10] Msun, theta_E(1e10) ~ 0.13"
        u = rng.random((n, K))
        m = (1e6 ** 0.1 + u * (1e10 ** 0.1 - 1e6 ** 0.1)) ** 10
        r, phi = rng.uniform(0.25, 2.0, (n, K)), rng.uniform(0, 2 * np.pi, (n, K))
        p.update(sub_theta_E=0.13 * np.sqrt(m / 1e10), sub_x=r * np.cos(phi), sub_y=r * np.sin(phi))
    elif cls == "axion":
        L = 0.06 * 1e-22 / (2 * 10 ** rng.uniform(-24, -22, n))
        ang = rng.uniform(0, np.pi, n)
        t = np.linspace(-1, 1, K)[None] * L[:, None]
        p.update(sub_theta_E=np.full((n, K), 0.022), sub_x=t * np.cos(ang)[:, None], sub_y=t * np.sin(ang)[:, None],
                 vortex_half_length=L, vortex_angle=ang)
    return p


def torch_dicts(p: dict, sl: slice, dtype=torch.float32, vortex: bool = False):
    """(lens, source) dicts of the draws ``sl``; ``vortex``: an axion's point masses as the equivalent
    closed-form ``vortex`` group (``lensing.vortex``)."""
    T = lambda k: torch.as_tensor(p[k][sl], dtype=dtype)
    lens = {k: T(k) for k in ("theta_E", "e1", "e2", "center_x", "center_y", "gamma1", "gamma2")}
    if vortex and "vortex_half_length" in p:
        zero = torch.zeros_like(lens["theta_E"])
        lens.update(vortex_theta_E=T("sub_theta_E")[:, 0], vortex_x=zero, vortex_y=zero,
                    vortex_half_length=T("vortex_half_length"), vortex_angle=T("vortex_angle"),
                    vortex_n=p["sub_theta_E"].shape[1])
    elif "sub_theta_E" in p:
        lens.update(sub_theta_E=T("sub_theta_E"), sub_x=T("sub_x"), sub_y=T("sub_y"))
    src = {"amp": T("amp"), "R_sersic": T("R_sersic"), "n_sersic": T("n_sersic"), "e1": T("s_e1"), "e2": T("s_e2"),
               "center_x": T("s_x"), "center_y": T("s_y")}
    return lens, src


# ------------------------------------------------------------------------------ lenstronomy
def lenstronomy_rate(inst, p: dict, n: int) -> float:
    import lenstronomy.Util.util as lutil
    from lenstronomy.Data.imaging_data import ImageData
    from lenstronomy.Data.psf import PSF
    from lenstronomy.ImSim.image_model import ImageModel
    from lenstronomy.LensModel.lens_model import LensModel
    from lenstronomy.LightModel.light_model import LightModel

    _, _, ra0, dec0, _, _, pix2ang, _ = lutil.make_grid_with_coordtransform(
        inst.npix, inst.pixel_scale, center_ra=0, center_dec=0, subgrid_res=1, inverse=True)
    data = ImageData(image_data=np.zeros((inst.npix, inst.npix)), ra_at_xy_0=ra0, dec_at_xy_0=dec0,
                     transform_pix2angle=pix2ang)
    ps = PSF(psf_type="GAUSSIAN", fwhm=inst.psf_fwhm, pixel_size=inst.pixel_scale, truncation=inst.psf_truncation)
    K = p["sub_theta_E"].shape[1] if "sub_theta_E" in p else 0
    im = ImageModel(data, ps, lens_model_class=LensModel(["SIE", "SHEAR"] + ["POINT_MASS"] * K),
                    source_model_class=LightModel(["SERSIC_ELLIPSE"]), kwargs_numerics={"supersampling_factor": 1})

    def kwargs(i):
        kl = [{"theta_E": p["theta_E"][i], "e1": p["e1"][i], "e2": p["e2"][i], "center_x": p["center_x"][i],
                   "center_y": p["center_y"][i]}, {"gamma1": p["gamma1"][i], "gamma2": p["gamma2"][i]}]
        kl += [{"theta_E": p["sub_theta_E"][i, k], "center_x": p["sub_x"][i, k], "center_y": p["sub_y"][i, k]}
               for k in range(K)]
        ks = [{"amp": p["amp"][i], "R_sersic": p["R_sersic"][i], "n_sersic": p["n_sersic"][i], "e1": p["s_e1"][i],
                   "e2": p["s_e2"][i], "center_x": p["s_x"][i], "center_y": p["s_y"][i]}]
        return kl, ks

    im.image(*kwargs(0))  # warm-up: lenstronomy jit-compiles (numba) some profiles on first use
    times = []
    for i in range(n):
        t0 = time.perf_counter()
        im.image(*kwargs(i))
        times.append(time.perf_counter() - t0)
    return 1.0 / float(np.median(times))


# ------------------------------------------------------------------------------ caustics
def caustics_render(inst, lens: dict, src: dict, kernel: torch.Tensor) -> torch.Tensor:
    from caustics.lenses import func as lf
    from caustics.light import func as sf

    from lensbench.lensing.grid import pixel_grid

    x, y = pixel_grid(inst.npix, inst.pixel_scale, dtype=lens["theta_E"].dtype)
    c = lambda v: v[:, None, None]

    def phi_q(e1, e2):
        return torch.atan2(e2, e1) / 2, (1 - torch.hypot(e1, e2)) / (1 + torch.hypot(e1, e2))

    phi, q = phi_q(lens["e1"], lens["e2"])
    ax, ay = lf.reduced_deflection_angle_sie(c(lens["center_x"]), c(lens["center_y"]), c(q), c(phi),
                                             c(lens["theta_E"]), x, y)
    sx, sy = lf.reduced_deflection_angle_external_shear(0.0, 0.0, c(lens["gamma1"]), c(lens["gamma2"]), x, y)
    ax, ay = ax + sx, ay + sy
    if "sub_theta_E" in lens:
        K = lens["sub_theta_E"].shape[1]
        for k0 in range(0, K, 10):
            sl = slice(k0, k0 + 10)
            px, py = lf.reduced_deflection_angle_point(lens["sub_x"][:, sl, None, None], lens["sub_y"][:, sl, None, None],
                                                       lens["sub_theta_E"][:, sl, None, None], x, y)
            ax, ay = ax + px.sum(1), ay + py.sum(1)
    sphi, sq = phi_q(src["e1"], src["e2"])
    k = sf.k_lenstronomy(src["n_sersic"])
    img = sf.brightness_sersic(c(src["center_x"]), c(src["center_y"]), c(sq), c(sphi), c(src["n_sersic"]),
                               c(src["R_sersic"]), c(src["amp"]), x - ax, y - ay, c(k))
    return lpsf.convolve(img, kernel, padding="nearest") * inst.pixel_scale ** 2


# ------------------------------------------------------------------------------ timing helpers
def torch_rate(fn, p: dict, batch: int, n_batches: int, vortex: bool = False) -> tuple[float, float]:
    """(images/s from the median time of ``n_batches`` calls, each on its own slice of the draws;
    seconds of the untimed warm-up call)."""
    with torch.no_grad():
        t0 = time.perf_counter()
        fn(*torch_dicts(p, slice(0, batch), vortex=vortex))            # warm-up (compiles when compiled)
        warm = time.perf_counter() - t0
        times = []
        for b in range(n_batches):
            args = torch_dicts(p, slice(b * batch, (b + 1) * batch), vortex=vortex)
            t0 = time.perf_counter()
            fn(*args)
            times.append(time.perf_counter() - t0)
        return batch / float(np.median(times)), warm


def peak_rss_chunked(n_images: int, chunk: int) -> tuple[float, float]:
    """Build n_images 64x64 images (classes in turn) in chunks into one float32 array; peak RSS in GB."""
    inst = instruments.EUCLID
    out = np.empty((n_images, 1, inst.npix, inst.npix), dtype=np.float32)
    names = list(CLASSES)
    t0 = time.perf_counter()
    with torch.no_grad():
        for i, s in enumerate(range(0, n_images, chunk)):
            m = min(chunk, n_images - s)
            p = draw(names[i % 3], m, 1000 + i)
            out[s:s + m, 0] = render.render(*torch_dicts(p, slice(0, m)), inst).numpy()
    dt = time.perf_counter() - t0
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2, n_images / dt


def main(argv=None) -> str:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="few images, no README update")
    ap.add_argument("--rss-images", type=int, default=30000)
    ap.add_argument("--no-readme", action="store_true")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    try:
        import caustics  # noqa: F401
        have_caustics = True
    except ImportError:  # pragma: no cover - optional
        have_caustics = False
    q = args.quick
    rows, notes = [], []
    for inst, batch, n_len in ((instruments.EUCLID, 256, 300), (instruments.MODEL_I, 64, 60)):
        if q:
            batch, n_len = batch // 8, max(5, n_len // 20)
        n_batches = 2 if q else 7
        kernel = inst.psf_kernel()
        for cls in CLASSES:
            p = draw(cls, batch * (n_batches + 1), seed=7)
            r_len = lenstronomy_rate(inst, p, n_len)
            r_ours, _ = torch_rate(lambda lens, src, inst=inst: render.render(lens, src, inst), p, batch, n_batches)
            r_fast, t_compile = torch_rate(lambda lens, src, inst=inst: render.render(lens, src, inst, compile=True),
                                           p, batch, n_batches, vortex=True)
            r_cau = (torch_rate(lambda lens, src, inst=inst, kernel=kernel: caustics_render(inst, lens, src, kernel),
                                p, batch, n_batches)[0]
                     if have_caustics else float("nan"))
            rows.append((f"{inst.npix}x{inst.npix}", cls, r_len, r_cau, r_ours, r_fast, t_compile))
            print(rows[-1], flush=True)
            if cls == "axion":
                r_pm, _ = torch_rate(lambda lens, src, inst=inst: render.render(lens, src, inst, compile=True), p,
                                     batch, n_batches)
                notes.append(f"{inst.npix}x{inst.npix}: {r_pm:,.0f} img/s ({r_pm / r_len:.1f}x lenstronomy)")
                print(notes[-1], flush=True)
    n_rss = 3000 if q else args.rss_images
    rss_gb, rss_rate = peak_rss_chunked(n_rss, 1000)
    lines = [("| grid | class | lenstronomy img/s (1/call) | caustics img/s (batched) | lensing/ render img/s "
              "| lensing/ compiled img/s (first call s) | render vs lenstronomy | compiled vs lenstronomy "
              "| compiled vs caustics |"),
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for g, cls, a, b, c, f, tc in rows:
        lines.append(f"| {g} | {cls} | {a:,.0f} | {b:,.0f} | {c:,.0f} | {f:,.0f} ({tc:.0f} s) | {c / a:.1f}x "
                     f"| **{f / a:.1f}x** | {f / b:.2f}x |")
    goals = {"no_sub": 3.0, "cdm": 10.0, "axion": 50.0}
    met = [f"{cls} {f / a:.1f}x (goal {goals[cls]:.0f}x: {'met' if f / a >= goals[cls] else 'NOT met'})"
           for g, cls, a, b, c, f, tc in rows if g == "64x64"]
    cau = all(f / b >= 1.5 for *_, b, c, f, tc in rows)
    body = "\n".join(lines) + (
        f"\n\nGoals on the 64x64 Model II recipe, compiled `lensing.render` vs lenstronomy: {'; '.join(met)}; "
        f">= 1.5x caustics on every row: {'met' if cau else 'NOT met'}. "
        "Eager `lensing.render` with axions as point masses (the path of the v1 datasets) meets the no_sub "
        "goal only.\n\n"
        f"Settings: float32, torch {torch.__version__} with {args.threads} thread(s), batch 256 (64x64) / 64 (150x150), "
        "no supersampling, Gaussian PSF, no noise, same parameter draws for all; rates from the median "
        "time per call (lenstronomy: 300 / 60 calls of one image; batched: 7 batches) after one untimed warm-up "
        "call (its time is the 'first call' of the compiled path: the compile, or a hit in inductor's on-disk "
        "cache). "
        "lenstronomy: one `ImageModel.image` call per image (model built once per class; the DeepLense scripts "
        "also rebuilt it per image, which is not timed here). caustics: functional API, batched by broadcasting "
        "(see perf/simulator.py docstring). The compiled path renders the axion class as the closed-form `vortex` "
        "group (`lensing/vortex.py`; pixel agreement with lenstronomy's 100 POINT_MASS in the "
        "lenstronomy-agreement section); given the same axions as 100 point masses it makes "
        f"{'; '.join(notes)}.\n\n"
        f"Peak RSS of building {n_rss:,} 64x64 images with eager `lensing.render` in chunks of 1,000 into one float32 array "
        f"(the array alone is {n_rss * 64 * 64 * 4 / 1e9:.2f} GB): **{rss_gb:.2f} GB** "
        f"({rss_rate:,.0f} images/s over the mixed classes).\n\n"
        f"Machine load average during the run (1/5/15 min): {', '.join(f'{v:.1f}' for v in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs; rates are only comparable when the load is well below the CPU count.\n")
    print(body)
    if not (q or args.no_readme):
        from perf_readme import write_section
        write_section("simulator", body)
    return body


if __name__ == "__main__":
    main()
