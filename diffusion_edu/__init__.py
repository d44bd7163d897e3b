"""diffusion_edu: the helper package of the interactive textbook on
diffusion models.

One module per idea, each mapped to a chapter of the book:

==============  ==========================================  =======
module          contents                                    chapter
==============  ==========================================  =======
markov          transition matrices, n-step, stationarity   1
schedules       noise schedules (beta, alpha, alpha_bar)    2-3
gaussian        q(x_t | x_0), posterior, conversions        3-4
elbo            Gaussian KL and the evidence lower bound    5
samplers        DDPM and DDIM                               6, 8
langevin        Langevin dynamics, score matching           7
toy_data        1-D mixtures, Swiss roll, ideal denoisers   all
metrics         energy distance, 1-D Wasserstein            6-8
denoiser        the tiny torch MLP and its training loop    6
edm             the sampler design space (EDM), sigma ODE   11
likelihood      exact ODE likelihood, Hutchinson, bits/dim  11
discrete        categorical chains, masking, discrete ELBO  12
                and its torch network (discrete_denoiser)
checks          automatic checks of the exercises           all
interactive     explorable figures                          all
==============  ==========================================  =======

Import the modules you need, e.g. ``from diffusion_edu import markov``;
nothing heavy (torch) is imported until you ask for it.
"""

__version__ = "0.1.0"
