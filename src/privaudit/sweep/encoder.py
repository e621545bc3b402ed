"""The sweep's feature encoder: any numeric / categorical columns → a dense float matrix.

A generalisation of :func:`privaudit.demo.make_adult_encoder`: non-numeric
columns are one-hot encoded; each numeric column is standardised, one-hot
encoded or cut into quantile bins (one-hot), as
:class:`~privaudit.sweep.config.EncoderConfig` says. The result is an
unfitted scikit-learn ``ColumnTransformer`` (saved with skops, never pickle);
the sweep fits it on the population records.
"""

from __future__ import annotations

import pandas as pd

from privaudit.exceptions import ConfigError

__all__ = ["build_encoder", "column_methods", "fit_encoder"]


def column_methods(features: pd.DataFrame, config) -> dict[str, str]:
    """Encoding method of every feature column: ``one_hot`` for non-numeric ones, else ``config.numeric``, unless ``config.columns`` says otherwise.

    Examples
    --------
    >>> from privaudit.sweep.config import EncoderConfig
    >>> frame = pd.DataFrame({"age": [30, 40], "colour": ["red", "blue"], "weight": [1.5, 2.5]})
    >>> column_methods(frame, EncoderConfig(columns={"weight": "bins"}))
    {'age': 'standardize', 'colour': 'one_hot', 'weight': 'bins'}
    """
    unknown = sorted(set(config.columns) - set(map(str, features.columns)))
    if unknown:
        raise ConfigError(f"model.encoder.columns: {', '.join(unknown)} {'is not a feature column' if len(unknown) == 1 else 'are not feature columns'}; "
                          f"feature columns: {', '.join(map(str, features.columns))}")
    methods = {}
    for column in features.columns:
        numeric = pd.api.types.is_numeric_dtype(features[column]) and not pd.api.types.is_bool_dtype(features[column])
        method = config.columns.get(str(column), config.numeric if numeric else "one_hot")
        if not numeric and method != "one_hot":
            raise ConfigError(f"model.encoder.columns.{column}: column '{column}' is not numeric, so it can only be one_hot encoded, not {method}")
        methods[str(column)] = method
    return methods


def build_encoder(features: pd.DataFrame, config):
    """An unfitted ``ColumnTransformer`` for ``features`` (dense float output, columns in this order: standardised, one-hot, binned)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import KBinsDiscretizer, OneHotEncoder, StandardScaler

    methods = column_methods(features, config)
    by_method = {m: [c for c, used in methods.items() if used == m] for m in ("standardize", "one_hot", "bins")}
    parts = []
    if by_method["standardize"]:
        parts.append(("standardize", StandardScaler(), by_method["standardize"]))
    if by_method["one_hot"]:
        parts.append(("one_hot", OneHotEncoder(handle_unknown="ignore", sparse_output=False), by_method["one_hot"]))
    if by_method["bins"]:
        options = {"n_bins": config.n_bins, "encode": "onehot-dense", "strategy": "quantile", "subsample": None}
        if "quantile_method" in KBinsDiscretizer().get_params():  # scikit-learn ≥ 1.7, as the demo's encoder
            options["quantile_method"] = "averaged_inverted_cdf"
        parts.append(("bins", KBinsDiscretizer(**options), by_method["bins"]))
    if not parts:
        raise ConfigError("model.encoder: the data has no feature columns to encode; list them under data.features")
    return ColumnTransformer(parts, sparse_threshold=0.0)


def fit_encoder(encoder, features: pd.DataFrame):
    """Fit ``encoder`` quietly (quantile bins narrower than rounding are merged with a warning scikit-learn repeats per column)."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Bins whose width are too small")
        return encoder.fit(features)
