"""The generator section of a threat model, typed: one parameter model per generator kind.

``generator`` is a discriminated union on ``kind``, so ``privsynth validate`` and ``privsynth schema`` cover
every generator's parameters (an unknown kind or a misspelt parameter is a validation error with its field
path, before any data is read) and editors can complete them. Generators receive their parameter model and
only store it (scikit-learn: fitted state ends in ``_``). Defaults live here and nowhere else.
"""
from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MSTParams(_Params):
    iters: int = Field(default=1000, ge=1, le=100_000,
                       description="Mirror-descent iterations of Private-PGM's inference (post-processing).")


class AIMParams(_Params):
    degree: int = Field(default=3, ge=1, le=5, description="Size of the workload's marginals (3: all 3-way).")
    workload_size: int | None = Field(default=1000, ge=1, description="Most marginals of `degree` columns in the "
                                      "workload: a table with more (diabetes' 48 have 17,296 3-way ones) gets "
                                      "that many drawn uniformly from public facts only (column names, degree, size, "
                                      "target; never the rows), keeping every marginal with data.target when they fit; "
                                      "their subsets are the candidates. Adult (455) and bank marketing (680) keep "
                                      "their whole workload. null: always all of them.")
    max_model_size: float | None = Field(default=None, gt=0, description="Cap on the junction tree's size in "
                                         "MiB (the paper's default is 80). null: 5 MiB per unit of the fit's "
                                         "epsilon, between 5 and 10 (epsilon 1: 5, epsilon 2 and more: 10): every "
                                         "round's cost grows with the cap; at epsilon 1 a larger model bought "
                                         "nothing on Adult or diabetes, and at epsilon 10 20 MiB bought Adult little "
                                         "for 2-3 times the fit time (bench/README.md).")
    max_rounds: int | None = Field(default=None, ge=1, description="Rounds of select-and-measure; null: 16 per "
                                   "column, as in the paper (annealing usually ends the fit before).")
    round_iters: int = Field(default=200, ge=1, description="Inference iterations after each round (warm-started).")
    final_iters: int = Field(default=1000, ge=1, description="Inference iterations of the final model.")
    target_weight: float = Field(default=1.0, gt=0, description="Workload weight of marginals with data.target.")
    compress: bool = Field(default=True, description="Merge the codes whose NOISY one-way count is below 3 sigma.")
    alpha: float = Field(default=0.9, gt=0, lt=1, description="Share of each round's budget spent measuring "
                         "(the rest selects).")
    sampling_floor: bool = Field(default=True, description="Stop annealing where a measurement's noise would "
                                 "fall below the sampling error of the released table on that marginal (the noisy "
                                 "total and the model's estimate set it), so a large budget buys more marginals "
                                 "instead of ever more precise ones: on Adult at epsilon 10, decile 3-way TVD 0.034 "
                                 "against 0.039 with the paper's annealing, in about 3 times the fit time; it does "
                                 "not bind at epsilon 1 on the bundled tables (bench/README.md). false: the paper's "
                                 "annealing.")
    max_seconds: float | None = Field(default=None, gt=0, description="Time budget in seconds for the rounds: once "
                                      "AIM's own computing has taken that long, the next round is the last and spends "
                                      "all the budget left (the guarantee's details say so); null: no time budget.")


class _DPSGDParams(_Params):
    epochs: int = Field(ge=1, le=10_000, description="Passes over the data; every step is charged in advance.")
    batch_size: int = Field(ge=1, description="Expected Poisson batch size (sample rate = batch / noisy row count).")
    hidden: int = Field(ge=1, description="Width of the hidden layers.")
    max_grad_norm: float = Field(default=1.0, gt=0, description="Per-row gradient clipping bound (L2).")
    accountant: Literal["rdp", "prv"] = Field(default="rdp", description="Opacus accountant composing the fit.")
    numeric_bins: int | None = Field(default=None, ge=2, le=4096, description="Equal-width bins for every number "
                                     "in the one-hot encoding; null: the public-domain coders (exact small integers, "
                                     "32 bins plus a zero bin otherwise).")


class DPTVAEParams(_DPSGDParams):
    epochs: int = Field(default=10, ge=1, le=10_000, description="Passes over the data; every step is charged.")
    batch_size: int = Field(default=500, ge=1, description="Expected Poisson batch size.")
    hidden: int = Field(default=128, ge=1, description="Width of the encoder's and decoder's hidden layers.")
    latent_dim: int = Field(default=32, ge=1, description="Size of the latent space.")
    learning_rate: float = Field(default=1e-2, gt=0, description="Adam learning rate (DP-SGD's few noisy steps "
                                 "need a large one: 2e-3 left the model at the one-way marginals).")
    count_sigma: float = Field(default=100.0, gt=0, description="Noise of the charged row count that sets the "
                               "sample rate and the rows to sample.")
    reconstruction_weight: float = Field(default=2.0, gt=0, description="Weight of the reconstruction term "
                                         "against the KL term (TVAE's loss factor).")


class DPCTGANParams(_DPSGDParams):
    epochs: int = Field(default=30, ge=1, le=10_000, description="Passes over the data; every step is charged.")
    batch_size: int = Field(default=1000, ge=1, description="Expected Poisson batch size.")
    hidden: int = Field(default=256, ge=1, description="Width of the generator's and discriminator's layers.")
    noise_dim: int = Field(default=64, ge=1, description="Size of the generator's noise input.")
    generator_lr: float = Field(default=2e-4, gt=0, description="Generator learning rate (CTGAN's).")
    discriminator_lr: float = Field(default=1e-3, gt=0, description="Discriminator learning rate.")
    frequency_share: float = Field(default=0.1, gt=0, lt=1, description="Share of the budget spent on the noisy "
                                   "condition frequencies.")
    tau: float = Field(default=0.2, gt=0, description="Gumbel-softmax temperature of generated rows.")


class GaussianCopulaParams(_Params):
    default_distribution: Literal["beta", "norm", "truncnorm", "uniform", "gamma", "gaussian_kde"] = Field(
        default="beta", description="SDV GaussianCopula's marginal distribution for numbers.")


class SDVNeuralParams(_Params):
    epochs: int = Field(default=100, ge=1, description="Training epochs.")
    batch_size: int = Field(default=500, ge=10, description="Batch size (SDV needs a multiple of 10 for CTGAN).")


#: the most rows a run samples: refused at validation, before any budget is booked (issue 23: a larger table
#: ran out of memory after the fit)
MAX_SAMPLED_ROWS = 10_000_000


class _GeneratorBase(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    seed: int = Field(default=0, ge=0, description="Public seed of sampling and attacks; it fixes no DP noise.")
    n_rows: int | None = Field(default=None, ge=1, le=MAX_SAMPLED_ROWS, description="Rows to sample; default: the "
                               "generator's own (noisy) estimate of the training rows. At most 10,000,000: a larger "
                               "table ran out of memory after the fit, when its budget was already spent.")

    @model_validator(mode="before")
    @classmethod
    def _params_default(cls, data: object) -> object:
        if isinstance(data, dict) and data.get("params") is None:
            return {**data, "params": {}}
        return data


class MSTGenerator(_GeneratorBase):
    kind: Literal["mst"] = Field(description="MST (McKenna et al. 2021): DP, zCDP accounting.")
    params: MSTParams = Field(default_factory=MSTParams, description="MST's parameters.")


class AIMGenerator(_GeneratorBase):
    kind: Literal["aim"] = Field(description="AIM (McKenna et al. 2022): DP, zCDP accounting.")
    params: AIMParams = Field(default_factory=AIMParams, description="AIM's parameters.")


class DPTVAEGenerator(_GeneratorBase):
    kind: Literal["dp-tvae"] = Field(description="A VAE trained with DP-SGD (Opacus).")
    params: DPTVAEParams = Field(default_factory=DPTVAEParams, description="dp-tvae's parameters.")


class DPCTGANGenerator(_GeneratorBase):
    kind: Literal["dp-ctgan"] = Field(description="A conditional GAN whose discriminator trains with DP-SGD.")
    params: DPCTGANParams = Field(default_factory=DPCTGANParams, description="dp-ctgan's parameters.")


class GaussianCopulaGenerator(_GeneratorBase):
    kind: Literal["gaussian-copula"] = Field(description="SDV GaussianCopula: NO DP guarantee (a baseline).")
    params: GaussianCopulaParams = Field(default_factory=GaussianCopulaParams,
                                         description="SDV GaussianCopula's parameters.")


class CTGANGenerator(_GeneratorBase):
    kind: Literal["ctgan"] = Field(description="SDV CTGAN: NO DP guarantee (a baseline).")
    params: SDVNeuralParams = Field(default_factory=SDVNeuralParams, description="SDV CTGAN's parameters.")


class TVAEGenerator(_GeneratorBase):
    kind: Literal["tvae"] = Field(description="SDV TVAE: NO DP guarantee (a baseline).")
    params: SDVNeuralParams = Field(default_factory=SDVNeuralParams, description="SDV TVAE's parameters.")


GeneratorSpec = Annotated[
    Union[AIMGenerator, MSTGenerator, DPTVAEGenerator, DPCTGANGenerator, GaussianCopulaGenerator, CTGANGenerator,
          TVAEGenerator],
    Field(discriminator="kind"),
]
DEFAULT_KIND = "aim"
#: the generators without a differential-privacy guarantee (run only with privacy.allow_non_dp)
NON_DP_KINDS = frozenset({"gaussian-copula", "ctgan", "tvae"})
