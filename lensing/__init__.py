"""Differentiable, batched strong-lensing simulator in torch (no ML, no harness).

Physics core (imports torch/numpy only; import the submodules you need):

* ``lensing.grid``        pixel grids in lenstronomy orientation, block downsampling
* ``lensing.mass``        SIS, SIE, shear, point masses, truncated NFW, line mass, ray shooting
* ``lensing.light``       elliptical Sersic, interpolated (pixelised) sources
* ``lensing.psf``         Gaussian / pixel PSF kernels, 'same' convolution
* ``lensing.noise``       Poisson + Gaussian background noise with a seeded generator
* ``lensing.instruments`` Model I, Euclid-like and HST-like presets
* ``lensing.render``      noiseless image rendering (supersampling, PSF, pixel area)
* ``lensing.vortex``      the DeepLense axion vortex (n equal point masses on a segment) in closed form
* ``lensing.fast``        ``render`` in ``torch.compile``d blocks, plus the vortex: the fast path
"""
