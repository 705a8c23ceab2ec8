"""Make an N-body-calibrated xi_hh(r) reference table with the Dark Emulator.

Source: Nishimichi et al. 2019, ApJ 884, 29 (arXiv:1811.09504), "Dark Quest I".
PyPI package ``dark-emulator`` (import name ``dark_emulator``).

This script is NOT part of the diffsham package and does not run in the
project's .venv: dark-emulator 1.1.2 imports ``scipy.misc.derivative`` and
``scipy.integrate.trapz`` (both gone in SciPy >= 1.12 / 1.14), so it needs its
own environment. Recreate it and the CSV with (system python3 = 3.11):

    python3 -m venv /tmp/demu_venv
    /tmp/demu_venv/bin/pip install dark-emulator==1.1.2 george==0.4.4 \
        "numpy==1.26.4" "scipy==1.11.4"
    cd /work/main && /tmp/demu_venv/bin/python benchmarks/make_darkemu_reference.py

Output: data/reference/darkemu_xi_hh_bolshoi_planck_z0.csv
        data/reference/darkemu_bias_bolshoi_planck_z0.csv

Mass-bin statistics are built from the emulator's threshold (cumulative
number-density) samples. With n_a = n(>M_a) from ``mass_to_dens`` and pair
counts being additive over disjoint samples, a bin [M_lo, M_hi) has
n_bin = n_lo - n_hi and

  n_i n_j xi_ij = sum_{a,b in {lo,hi}} s_a s_b n_i^a n_j^b xi(n_i^a, n_j^b),

with s_lo = +1, s_hi = -1 (the same identity the package's own
``get_xiauto_mass`` uses for a 1%-wide bin). ``xi(n1, n2)`` is
``base_class.get_xiauto(r, log10 n1, log10 n2, z)``; xi_hm and the linear
bias use the single-sum version with ``get_xicross`` and ``get_bias``.
"""

import os
import sys

import numpy as np
from scipy.optimize import brentq

import dark_emulator
from dark_emulator import darkemu

# ---- cosmology: Bolshoi-Planck, flat LCDM ----------------------------------
OM0, OB0, H, NS, SIGMA8, W = 0.307, 0.048, 0.678, 0.96, 0.823, -1.0
OMEGA_NU = 0.00064  # fixed inside dark-emulator (sum m_nu = 0.06 eV), see
#                     cosmo_util.cosmo_class.get_hubble / set_cosmology doc
Z = 0.0
EDGES = [(12.0, 12.5), (12.5, 13.0), (13.0, 13.5), (13.5, 14.0), (14.0, 14.5)]
R = np.logspace(np.log10(0.3), np.log10(40.0), 31)  # comoving Mpc/h
LOGDENS_MAX = -2.5  # densest threshold sample the emulator was trained on

HERE = os.path.dirname(os.path.abspath(__file__))
OUTDIR = os.path.join(HERE, "..", "data", "reference")


def cparam_for(lnAs):
    wb = OB0 * H**2
    wc = OM0 * H**2 - wb - OMEGA_NU  # keep total Omega_m = 0.307 incl. nu
    return np.array([wb, wc, 1.0 - OM0, lnAs, NS, W])


def main():
    emu = darkemu.base_class()

    def s8_minus(lnAs):
        emu.set_cosmology(cparam_for(lnAs))
        return emu.get_sigma8() - SIGMA8

    lnAs = brentq(s8_minus, 2.6, 3.6, xtol=1e-10)
    cparam = cparam_for(lnAs)
    emu.set_cosmology(cparam)
    s8 = emu.get_sigma8()
    s8_fine = emu.get_sigma8(logkmin=-5, logkmax=2, nint=5000)
    assert abs(s8 - SIGMA8) < 1e-4
    h_emu = emu.cosmo.get_hubble()

    def logn(log10m):
        return np.log10(emu.mass_to_dens(10.0**log10m, Z))

    # mass threshold whose cumulative density equals the densest trained sample
    lm_min = brentq(lambda lm: logn(lm) - LOGDENS_MAX, 12.0, 13.0, xtol=1e-8)

    bins = list(EDGES)
    alt = (round(lm_min, 3), 12.5)  # in-range replacement for the lowest bin
    bins_all = bins + [alt]
    lab = {b: f"{b[0]:.1f}-{b[1]:.1f}" if b != alt else f"{b[0]:.3f}-{b[1]:.1f}"
           for b in bins_all}
    ln = {b: (logn(b[0]), logn(b[1])) for b in bins_all}

    def xi_hh(b1, b2):
        num = np.zeros_like(R)
        for s1, l1 in zip((1, -1), ln[b1]):
            for s2, l2 in zip((1, -1), ln[b2]):
                num += s1 * s2 * 10**l1 * 10**l2 * emu.get_xiauto(R, l1, l2, Z)
        den = (10**ln[b1][0] - 10**ln[b1][1]) * (10**ln[b2][0] - 10**ln[b2][1])
        return num / den

    def single(b, f):
        (llo, lhi) = ln[b]
        return (10**llo * f(llo) - 10**lhi * f(lhi)) / (10**llo - 10**lhi)

    cols, names = [R], ["r"]
    for b in bins:
        cols.append(xi_hh(b, b)); names.append(f"xi_hh_{lab[b]}")
    for b1, b2 in zip(bins[:-1], bins[1:]):
        cols.append(xi_hh(b1, b2)); names.append(f"xi_hh_{lab[b1]}_x_{lab[b2]}")
    for b in bins:
        cols.append(single(b, lambda l: emu.get_xicross(R, l, Z)))
        names.append(f"xi_hm_{lab[b]}")
    # in-range alternative for the lowest bin
    cols.append(xi_hh(alt, alt)); names.append(f"xi_hh_{lab[alt]}")
    cols.append(xi_hh(alt, bins[1])); names.append(f"xi_hh_{lab[alt]}_x_{lab[bins[1]]}")
    cols.append(single(alt, lambda l: emu.get_xicross(R, l, Z)))
    names.append(f"xi_hm_{lab[alt]}")

    bias = {b: float(single(b, lambda l: np.ravel(emu.get_bias(l, Z))[0]))
            for b in bins_all}
    nbin = {b: 10**ln[b][0] - 10**ln[b][1] for b in bins_all}

    versions = (f"dark-emulator {dark_emulator.__version__ if hasattr(dark_emulator, '__version__') else '1.1.2'}"
                f", numpy {np.__version__}, scipy {__import__('scipy').__version__}"
                f", george {__import__('george').__version__}, python {sys.version.split()[0]}")
    bias_lines = [f"  {lab[b]}: b_lin = {bias[b]:.5f}, n_bin = {nbin[b]:.6e} (Mpc/h)^-3,"
                  f" log10 n(>M_lo) = {ln[b][0]:.4f}, log10 n(>M_hi) = {ln[b][1]:.4f}"
                  for b in bins_all]
    header = "\n".join([
        "Dark Emulator reference: halo-halo (and halo-matter) real-space correlation functions, z = 0",
        "Source: Nishimichi et al. 2019, ApJ 884, 29 (arXiv:1811.09504), 'Dark Quest. I.'; PyPI package dark-emulator",
        f"Versions: {versions}",
        "Generated by benchmarks/make_darkemu_reference.py (separate venv, see its docstring)",
        "Cosmology: Bolshoi-Planck flat LCDM, Om0=0.307 (total, incl. the emulator's fixed 0.06 eV neutrinos),"
        " Ob0=0.048, h=0.678, ns=0.96, w=-1, target sigma8=0.823",
        "  dark-emulator fixes omega_nu=0.00064 (sum m_nu=0.06 eV) and sets h=sqrt((omega_b+omega_c+omega_nu)/(1-Omega_de));"
        " omega_c = Om0 h^2 - omega_b - 0.00064 so that Om0=0.307 and h=0.678 hold exactly",
        "cparam = [omega_b, omega_c, Omega_de, ln(10^10 A_s), n_s, w] = ["
        + ", ".join(f"{v:.10g}" for v in cparam) + "]",
        f"  emulator h = {h_emu:.6f}; ln(10^10 A_s) solved (brentq) so that base_class.get_sigma8() = {s8:.7f}"
        f" (|diff| < 1e-4); same cosmology with a finer k-integral get_sigma8(logkmin=-5,logkmax=2,nint=5000) = {s8_fine:.7f}",
        "Masses: M200m (200 x mean matter density), Msun/h; bin labels are log10 M200m edges [lo, hi)",
        "Calls: base_class.set_cosmology, get_sigma8, mass_to_dens(M, z) -> n(>M);"
        " get_xiauto(r, log10 n1, log10 n2, z) (threshold samples); get_xicross(r, log10 n, z); get_bias(log10 n, z)",
        "  bin quantities from threshold samples: n_i n_j xi_ij = sum_{a,b in lo,hi} s_a s_b n_i^a n_j^b xi(n_i^a,n_j^b),"
        " s_lo=+1, s_hi=-1 (same identity as the package's get_xiauto_mass, but over the full bin);"
        " xi_hm, b_lin: (n_lo X_lo - n_hi X_hi)/(n_lo - n_hi)",
        "Columns: r = comoving separation [Mpc/h]; xi_hh_A = auto-correlation of halos in bin A;"
        " xi_hh_A_x_B = cross-correlation of bins A and B; xi_hm_A = halo-matter cross-correlation of bin A",
        "Documented accuracy (paper abstract): xi_hm better than 2%, xi_hh better than 4% for typical CMASS-hosting halos"
        " (~10^13 Msun/h); training: 2048^3-particle N-body runs, z in [0, 1.48], halos >= ~10^12 Msun/h",
        "Validity in this package: cosmology box omega_b [0.0211,0.0234], omega_c [0.108,0.132], Omega_de [0.548,0.821],"
        " ln(10^10As) [2.475,3.713], n_s [0.916,1.013], w [-1.2,-0.8] (this cparam is inside);"
        " xi_hh direct emulation tabulated at 0.2 < r < 63 Mpc/h for log10 n(>M) in [-6, -2.5] (beyond -5.75 rescaled by"
        " bias ratio); xi_hm at 0.01 < r < 100 Mpc/h for log10 n in [-8.5, -2.5]; blended with a tree-level (linear"
        " propagator) model with weight 1-exp(-(r/r_sw)^4), r_sw=min(60, BAO/2) Mpc/h",
        f"WARNING: at z=0 here log10 n(>10^12) = {ln[bins[0]][0]:.4f} > -2.5, i.e. 10^12.0 is BELOW the lowest trained"
        f" threshold (log10 M = {lm_min:.4f}). The package clamps (RectBivariateSpline) at log10 n=-2.5, so every"
        " column involving bin 12.0-12.5 (xi_hh_12.0-12.5, xi_hh_12.0-12.5_x_12.5-13.0, xi_hm_12.0-12.5 and its bias)"
        " is an EXTRAPOLATION and not reliable.",
        f"  The last three columns use the in-range bin {lab[alt]} (lower edge = threshold with log10 n = -2.5) instead.",
        "  Small r: below roughly R200m(M1)+R200m(M2) (R200m(10^12.5)=0.35, 10^13.5=0.76, 10^14.5=1.64 Mpc/h) xi_hh is in"
        " the halo-exclusion regime (-> -1); there the bin differencing amplifies emulator error, values < -1 (e.g."
        " -1.18 to -1.38 at r=0.3 for the lowest bins) are unphysical: treat |xi_hh + 1| < ~0.3 there as noise.",
        "  Package version caveat: only dark-emulator<=1.1.2 is on PyPI here; later releases are described as fixing an"
        " FFTLog wrapper argument-forwarding bug and the k-grid of the halo-matter propagator, which affect only the"
        " tree-level part (weight 1-exp(-(r/r_sw)^4) <= 0.18 at r=40 Mpc/h).",
        "Linear bias (get_bias, number-weighted over the bin; large-scale limit of the emulator's propagator model):",
        *bias_lines,
    ])
    os.makedirs(OUTDIR, exist_ok=True)
    out = os.path.join(OUTDIR, "darkemu_xi_hh_bolshoi_planck_z0.csv")
    with open(out, "w") as f:
        for line in header.splitlines():
            f.write("# " + line + "\n")
        f.write(",".join(names) + "\n")
        np.savetxt(f, np.column_stack(cols), fmt="%.8e", delimiter=",")

    bout = os.path.join(OUTDIR, "darkemu_bias_bolshoi_planck_z0.csv")
    with open(bout, "w") as f:
        f.write("# Dark Emulator linear halo bias at z=0 for the bins of darkemu_xi_hh_bolshoi_planck_z0.csv"
                " (see that file's header for cosmology, versions and caveats; bin 12.0-12.5 is extrapolated)\n")
        f.write("# columns: log10 M200m lo, hi [Msun/h]; b_lin from get_bias; n_bin [(Mpc/h)^-3] from mass_to_dens\n")
        f.write("log10M_lo,log10M_hi,b_lin,n_bin\n")
        for b in bins_all:
            f.write(f"{b[0]},{b[1]},{bias[b]:.6f},{nbin[b]:.6e}\n")
    print("wrote", out, "and", bout)
    print("cparam", cparam, "sigma8", s8)


if __name__ == "__main__":
    main()
