"""Plots of a run, written to files: traces, a corner plot (with the truth when known),
the posterior predictive statistics against the data with residuals in units of
sigma, and the implied SMHM as a band. Everything comes from the run's InferenceData."""
import json
import os

import numpy as np

__all__ = ("write_plots",)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path):
    tmp = f"{path}.{os.getpid()}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, path)


def _trace(idata, names, path):
    plt = _plt()
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 1.8 * len(names)), squeeze=False)
    for i, name in enumerate(names):
        x = np.asarray(idata.posterior[name])
        for c in range(x.shape[0]):
            axes[i, 0].hist(x[c], bins=40, histtype="step", density=True)
            axes[i, 1].plot(x[c], lw=0.5)
        axes[i, 0].set_ylabel(name)
    axes[-1, 1].set_xlabel("draw")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)


def _corner(idata, names, truth, path):
    plt = _plt()
    n = len(names)
    x = {k: np.asarray(idata.posterior[k]).ravel() for k in names}
    fig, axes = plt.subplots(n, n, figsize=(2.2 * n, 2.2 * n), squeeze=False)
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
    _save(fig, path)
    plt.close(fig)


def _ppc(idata, path):
    plt = _plt()
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
    fig, axes = plt.subplots(2, len(blocks), figsize=(3.2 * len(blocks), 5), squeeze=False,
                             gridspec_kw=dict(height_ratios=(3, 1)))
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
    _save(fig, path)
    plt.close(fig)


def _smhm(idata, path):
    plt = _plt()
    logm = np.asarray(idata.constant_data["smhm_logmpeak"])
    mu = np.asarray(idata.constant_data["smhm"]).reshape(-1, logm.size)
    lo, med, hi = np.percentile(mu, [16, 50, 84], axis=0)
    lo2, hi2 = np.percentile(mu, [2.5, 97.5], axis=0)
    fig, ax = plt.subplots(figsize=(5, 4))
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
    _save(fig, path)
    plt.close(fig)


def write_plots(idata, out_dir):
    """Write trace.png, corner.png, and (when the run stored them) ppc.png, smhm.png."""
    os.makedirs(out_dir, exist_ok=True)
    names = json.loads(idata.attrs["free"])
    truth = json.loads(idata.attrs.get("truth", "{}"))
    paths = [os.path.join(out_dir, "trace.png"), os.path.join(out_dir, "corner.png")]
    _trace(idata, names, paths[0])
    _corner(idata, names, truth, paths[1])
    if "constant_data" in idata.groups():
        paths.append(os.path.join(out_dir, "ppc.png"))
        _ppc(idata, paths[-1])
        if "smhm" in idata.constant_data:
            paths.append(os.path.join(out_dir, "smhm.png"))
            _smhm(idata, paths[-1])
    return paths
