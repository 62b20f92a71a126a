"""Reconstruction-based anomaly detectors: convolutional AE, VAE and adversarial AE (AAE).

All three share one convolutional encoder/decoder pair (the model family of paper 2008.12731,
"Decoding dark matter substructure without supervision"): four stride-2 convolutions with batch
norm and LeakyReLU, a dense bottleneck, and the mirror image with transposed convolutions. Inputs
whose side is not a multiple of 16 (150 px) are zero-padded symmetrically before encoding and the
reconstruction is cropped back, so 64 px and 150 px tasks both work. The anomaly score of every
model here is the per-image reconstruction MSE (higher = more anomalous); the VAE scores the
reconstruction of its posterior mean (deterministic), not the negative ELBO.

Training is normal-data only; the trainer gives one AdamW optimiser over all parameters and calls
``loss(batch, output)["loss"].backward()``. The AAE plays its adversarial game inside that single
backward pass (see :class:`AdversarialAutoencoder`).
"""

from __future__ import annotations

from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from lensbench import kinds
from lensbench.specs import TaskSpec

DEFAULTS = {"widths": (32, 64, 128, 128), "latent_dim": 64}


def _check_task(task: TaskSpec, name: str) -> tuple[int, int, int]:
    kinds.require(task, name, "anomaly")
    return tuple(int(s) for s in task.input_shape)


def per_image_mse(recon: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Mean squared reconstruction error of each image, shape (N,)."""
    return (recon.float() - x.float()).pow(2).flatten(1).mean(1)


class ConvCoder(nn.Module):
    """Encoder to a flat code and decoder back to the input size (the shared backbone)."""

    def __init__(self, input_shape, code_dim: int, latent_dim: int, widths=DEFAULTS["widths"]):
        super().__init__()
        c, h, w = input_shape
        stride = 2 ** len(widths)
        self.shape = (c, h, w)
        self.grid = (-(-h // stride), -(-w // stride))  # ceil: bottleneck grid after padding
        hp, wp = self.grid[0] * stride, self.grid[1] * stride
        top, left = (hp - h) // 2, (wp - w) // 2
        self.pad = (left, wp - w - left, top, hp - h - top)  # F.pad order: left, right, top, bottom
        enc, ch = [], c
        for wd in widths:
            enc += [nn.Conv2d(ch, wd, 4, 2, 1), nn.BatchNorm2d(wd), nn.LeakyReLU(0.2)]
            ch = wd
        flat = ch * self.grid[0] * self.grid[1]
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(flat, code_dim))
        self.fc = nn.Linear(latent_dim, flat)
        dec, rev = [], list(widths[::-1]) + [c]
        for i, (a, b) in enumerate(pairwise(rev)):
            dec.append(nn.ConvTranspose2d(a, b, 4, 2, 1))
            if i < len(widths) - 1:
                dec += [nn.BatchNorm2d(b), nn.LeakyReLU(0.2)]
        self.decoder = nn.Sequential(*dec)
        self.top_width = ch

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != self.shape:
            raise ValueError(f"autoencoder built for images {self.shape}, got images {tuple(x.shape[1:])}")
        return self.encoder(F.pad(x, self.pad))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        y = self.decoder(self.fc(z).view(len(z), self.top_width, *self.grid))
        left, _, top, _ = self.pad
        return y[:, :, top:top + self.shape[1], left:left + self.shape[2]]


class ConvAutoencoder(nn.Module):
    """Deterministic convolutional autoencoder (DCAE); forward returns the reconstruction."""

    def __init__(self, task: TaskSpec, latent_dim: int = DEFAULTS["latent_dim"], widths=DEFAULTS["widths"]):
        super().__init__()
        self.net = ConvCoder(_check_task(task, "conv-ae"), latent_dim, latent_dim, tuple(widths))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.decode(self.net.encode(x))

    def loss(self, batch: dict, output: torch.Tensor) -> dict[str, torch.Tensor]:
        recon = per_image_mse(output, batch["image"]).mean()
        return {"loss": recon, "recon": recon.detach()}

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        return per_image_mse(self(x), x)


class VariationalAutoencoder(nn.Module):
    """Convolutional VAE with a unit Gaussian prior.

    ``loss = recon + beta * kl / n_pixels`` where ``recon`` is the per-pixel MSE (a unit-variance
    Gaussian likelihood up to a factor 2) and ``kl`` the KL divergence in nats per image; dividing
    by the pixel count keeps the two on the scale of the per-pixel ELBO. Both parts are logged.
    Sampling happens in training mode only; in eval mode the posterior mean is decoded.
    """

    def __init__(self, task: TaskSpec, latent_dim: int = DEFAULTS["latent_dim"], widths=DEFAULTS["widths"],
                 beta: float = 1.0):
        super().__init__()
        shape = _check_task(task, "vae")
        self.net = ConvCoder(shape, 2 * latent_dim, latent_dim, tuple(widths))
        self.latent_dim, self.beta = latent_dim, float(beta)
        self.n_pixels = shape[0] * shape[1] * shape[2]

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        mu, logvar = self.net.encode(x).float().chunk(2, dim=1)
        logvar = logvar.clamp(-10.0, 10.0)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp() if self.training else mu
        return {"recon": self.net.decode(z), "mu": mu, "logvar": logvar}

    def loss(self, batch: dict, output: dict) -> dict[str, torch.Tensor]:
        recon = per_image_mse(output["recon"], batch["image"]).mean()
        mu, logvar = output["mu"], output["logvar"]
        kl = (0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1)).mean()
        total = recon + self.beta * kl / self.n_pixels
        return {"loss": total, "recon": recon.detach(), "kl": kl.detach()}

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        mu, _ = self.net.encode(x).float().chunk(2, dim=1)
        return per_image_mse(self.net.decode(mu), x)


class AdversarialAutoencoder(nn.Module):
    """Adversarial autoencoder: the latent code is pushed towards N(0, I) by a discriminator.

    Single-optimiser scheme (one backward pass trains both players):

    - ``recon``: per-pixel MSE; gradients reach encoder and decoder.
    - ``disc``: BCE of the discriminator on prior samples (label 1) and on *detached* codes
      (label 0); gradients reach the discriminator only.
    - ``gen``: non-saturating generator loss, BCE(D(z), 1), evaluated with a *detached copy of the
      discriminator's parameters* (``torch.func.functional_call``); gradients reach the encoder only.

    The three parameter sets receive gradients from disjoint terms, so ``recon + adv_weight * gen +
    disc`` backpropagated once equals alternating updates taken simultaneously. In eval mode (the
    trainer's val loss, used to pick the checkpoint) ``loss`` is the reconstruction error alone,
    since the game's total does not measure quality; prior samples then come from a fixed-seed
    generator so the logged parts are deterministic.
    """

    def __init__(self, task: TaskSpec, latent_dim: int = DEFAULTS["latent_dim"], widths=DEFAULTS["widths"],
                 adv_weight: float = 0.1, disc_width: int = 256):
        super().__init__()
        self.net = ConvCoder(_check_task(task, "aae"), latent_dim, latent_dim, tuple(widths))
        self.discriminator = nn.Sequential(
            nn.Linear(latent_dim, disc_width), nn.LeakyReLU(0.2),
            nn.Linear(disc_width, disc_width), nn.LeakyReLU(0.2),
            nn.Linear(disc_width, 1),
        )
        self.adv_weight = float(adv_weight)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        z = self.net.encode(x)
        return {"recon": self.net.decode(z), "z": z}

    def loss(self, batch: dict, output: dict) -> dict[str, torch.Tensor]:
        z = output["z"].float()
        recon = per_image_mse(output["recon"], batch["image"]).mean()
        gen = torch.Generator(device=z.device).manual_seed(0) if not self.training else None
        prior = torch.randn(z.shape, generator=gen, device=z.device, dtype=z.dtype)
        ones, zeros = torch.ones(len(z), device=z.device), torch.zeros(len(z), device=z.device)
        d_real = self.discriminator(prior).squeeze(1).float()
        d_fake = self.discriminator(z.detach()).squeeze(1).float()
        bce = F.binary_cross_entropy_with_logits
        disc = bce(d_real, ones) + bce(d_fake, zeros)
        frozen = {k: v.detach() for k, v in self.discriminator.named_parameters()}
        g_logit = functional_call(self.discriminator, frozen, (z,)).squeeze(1).float()
        gen_loss = bce(g_logit, ones)
        total = recon + self.adv_weight * gen_loss + disc if self.training else recon
        return {"loss": total, "recon": recon.detach(), "gen": gen_loss.detach(), "disc": disc.detach()}

    @torch.no_grad()
    def anomaly_score(self, x: torch.Tensor) -> torch.Tensor:
        return per_image_mse(self.net.decode(self.net.encode(x)), x)


def conv_ae(task: TaskSpec, **config) -> nn.Module:
    return ConvAutoencoder(task, **config)


def vae(task: TaskSpec, **config) -> nn.Module:
    return VariationalAutoencoder(task, **config)


def aae(task: TaskSpec, **config) -> nn.Module:
    return AdversarialAutoencoder(task, **config)
