"""Solvers of the spin glass: exact ground state, AMP (paper and Onsager), Boltzmann sampling."""
