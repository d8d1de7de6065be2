"""The values a choice in the configuration may take: constants only, no imports.

:mod:`gmmgen.pipeline.config` checks the configuration against them; the library
modules that act on a choice (the corruptions of :mod:`gmmgen.core.metrics`, ...)
read them from here, so no library module imports the configuration.
"""

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
CRITERIA = ("bic", "aic", "heldout")
DATA_NAMES = ("mnist", "digits")
DATA_SOURCES = ("auto", "download", "bundled")
INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")
CORRUPTIONS = ("noise", "inversion", "rotation", "blank")
# The verdict of the data-copying test (gmmgen.core.copying): C_T below evaluate.copying_threshold, at or
# above it, or no cell with enough generated digits to test. Read by the verdict and the reports.
COPYING, NOT_COPYING, UNTESTED = "copying", "not copying", "untested"
COPYING_STATUSES = (COPYING, NOT_COPYING, UNTESTED)
