"""Plots of a run: traces, a corner plot (with the truth when known), the posterior
predictive statistics against the data with residuals in units of sigma, and the implied
SMHM as a band against published relations. Everything comes from the run's
InferenceData. Each ``plot_*`` returns a matplotlib Figure made without pyplot (no
backend is chosen or changed, so a notebook's inline display keeps working);
``write_plots`` saves them."""
import json
import os

import numpy as np

__all__ = ("plot_trace", "plot_corner", "plot_ppc", "plot_smhm", "write_plots")


def _figure(n_rows, n_cols, figsize, **kwargs):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    return fig, fig.subplots(n_rows, n_cols, squeeze=False, **kwargs)


def _save(fig, path):
    tmp = f"{path}.{os.getpid()}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def plot_trace(idata, names=None):
    """Per-chain histograms and traces of each parameter (default: the free ones)."""
    names = json.loads(idata.attrs["free"]) if names is None else names
    fig, axes = _figure(len(names), 2, (10, 1.8 * len(names)))
    for i, name in enumerate(names):
        x = np.asarray(idata.posterior[name])
        for c in range(x.shape[0]):
            axes[i, 0].hist(x[c], bins=40, histtype="step", density=True)
            axes[i, 1].plot(x[c], lw=0.5)
        axes[i, 0].set_ylabel(name)
    axes[-1, 1].set_xlabel("draw")
    fig.tight_layout()
    return fig


def plot_corner(idata, names=None, truth=None):
    """Marginals and pairwise 2-d histograms, with the truth (default: the run's, if any)."""
    names = json.loads(idata.attrs["free"]) if names is None else names
    truth = json.loads(idata.attrs.get("truth", "{}")) if truth is None else truth
    n = len(names)
    x = {k: np.asarray(idata.posterior[k]).ravel() for k in names}
    fig, axes = _figure(n, n, (2.2 * n, 2.2 * n))
    for i, a in enumerate(names):
        for j, b in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.axis("off")
                continue
            if i == j:
                ax.hist(x[a], bins=40, histtype="step", color="k")
                if a in truth:
                    ax.axvline(truth[a], color="C3")
            else:
                ax.hist2d(x[b], x[a], bins=40, cmap="Greys")
                if a in truth and b in truth:
                    ax.plot(truth[b], truth[a], "s", color="C3", ms=4)
            if i == n - 1:
                ax.set_xlabel(b)
            if j == 0 and i > 0:
                ax.set_ylabel(a)
    fig.tight_layout()
    return fig


def plot_ppc(idata):
    """Each statistic's data against the posterior's 68% band, and residuals in sigma."""
    labels = [str(s) for s in np.asarray(idata.observed_data["data_element"])]
    data = np.asarray(idata.observed_data["data"])
    cov = np.asarray(idata.constant_data["covariance"])
    pred = np.asarray(idata.constant_data["prediction"]).reshape(-1, data.size)
    sd = np.sqrt(np.diag(cov))
    blocks = {}
    for k, lab in enumerate(labels):
        name = lab.split(" ")[0] if not lab.startswith("smf") else "smf"
        r = float(lab.split("r=")[1]) if "r=" in lab else np.mean([float(v) for v in lab[4:-1].split(",")])
        blocks.setdefault(name, []).append((k, r))
    fig, axes = _figure(2, len(blocks), (3.2 * len(blocks), 5), gridspec_kw=dict(height_ratios=(3, 1)))
    lo, med, hi = np.percentile(pred, [16, 50, 84], axis=0)
    for j, (name, items) in enumerate(blocks.items()):
        k = np.array([i for i, _ in items])
        r = np.array([v for _, v in items])
        ax = axes[0, j]
        ax.errorbar(r, data[k], sd[k], fmt="o", ms=3, color="k", label="data")
        ax.fill_between(r, lo[k], hi[k], color="C0", alpha=0.4, label="posterior 68%")
        ax.plot(r, med[k], color="C0")
        ax.set_yscale("log")
        if name != "smf":
            ax.set_xscale("log")
        ax.set_title(name, fontsize=8)
        axes[1, j].axhline(0, color="k", lw=0.5)
        axes[1, j].plot(r, (data[k] - med[k]) / sd[k], "o", ms=3)
        axes[1, j].set_xscale("log" if name != "smf" else "linear")
        axes[1, j].set_ylabel("(data - model) / sigma" if j == 0 else "")
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return fig


def plot_smhm(idata):
    """The fit's <log M*>(Mpeak) as 68% and 95% bands, with the published relations."""
    logm = np.asarray(idata.constant_data["smhm_logmpeak"])
    mu = np.asarray(idata.constant_data["smhm"]).reshape(-1, logm.size)
    lo, med, hi = np.percentile(mu, [16, 50, 84], axis=0)
    lo2, hi2 = np.percentile(mu, [2.5, 97.5], axis=0)
    fig, axes = _figure(1, 1, (5, 4))
    ax = axes[0, 0]
    ax.fill_between(logm, lo2, hi2, color="C0", alpha=0.2, label="95%")
    ax.fill_between(logm, lo, hi, color="C0", alpha=0.5, label="68%")
    ax.plot(logm, med, color="C0", label="this fit (median)")
    from ..survey import PUBLISHED_SMHM

    # the published relations at z = 0.1 in h = 1 units (their halo mass definitions
    # differ from Mpeak: diffsham.survey.published_smhm)
    for k, (relation, label) in enumerate(PUBLISHED_SMHM.values()):
        ax.plot(logm, relation(logm, z=0.1), ls="--", color=f"C{k + 1}", label=label)
    ax.set_xlabel(r"$\log_{10} M_{\rm peak}\ [M_\odot/h]$")
    ax.set_ylabel(r"$\langle \log_{10} M_\star \rangle\ [M_\odot/h^2]$")
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def write_plots(idata, out_dir):
    """Write trace.png, corner.png, and (when the run stored them) ppc.png, smhm.png."""
    os.makedirs(out_dir, exist_ok=True)
    figures = {"trace.png": plot_trace(idata), "corner.png": plot_corner(idata)}
    if "constant_data" in idata.groups():
        figures["ppc.png"] = plot_ppc(idata)
        if "smhm" in idata.constant_data:
            figures["smhm.png"] = plot_smhm(idata)
    paths = []
    for name, fig in figures.items():
        paths.append(os.path.join(out_dir, name))
        _save(fig, paths[-1])
    return paths
