"""Differentiable, batched strong-lensing simulator in torch (no ML, no harness).

Physics core (imports torch/numpy only; import the submodules you need):

* ``lensing.grid``        pixel grids in lenstronomy orientation, block downsampling
* ``lensing.mass``        SIS, SIE, shear, point masses, truncated NFW, line mass (deflection profiles)
* ``lensing.vortex``      the DeepLense axion vortex (n equal point masses on a segment) in closed form
* ``lensing.compensation`` negative annulus / segment-monopole profiles that take substructure mass
                          from the host (lensbench-v2)
* ``lensing.lens_model``  the lens dict: its groups, its checks, the total deflection and ray shooting
* ``lensing.light``       elliptical Sersic, interpolated (pixelised) sources
* ``lensing.psf``         Gaussian / pixel PSF kernels, 'same' convolution
* ``lensing.noise``       Poisson + Gaussian background noise with a seeded generator
* ``lensing.instruments`` Model I, Euclid-like and HST-like presets
* ``lensing.render``      noiseless image rendering (supersampling, PSF, pixel area), eager or
                          ``torch.compile``d (``render(..., compile=True)``: the fast path)
* ``lensing.inverse``     differentiable inverse lensing (splatting to, resampling from the source plane)
* ``lensing.cosmo``       distances and mass -> Einstein radius
* ``lensing.sources``     real COSMOS galaxies as pixelised sources
* ``lensing.recipes``     the versioned dataset simulators (priors as data) built on ``render``
"""
