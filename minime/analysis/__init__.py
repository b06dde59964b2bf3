"""Analysis of trained models: singular spectra, Information Abundance and effective rank.

A thin re-export of the submodules' public names, so chapters write
``from minime import analysis`` and then ``analysis.information_abundance(E)``.
"""

from minime.analysis.spectrum import effective_rank, information_abundance, singular_values

__all__ = ["effective_rank", "information_abundance", "singular_values"]
