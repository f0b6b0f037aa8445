"""The numbers the two papers report: references printed *beside* ours, never in place of them.

Transcribed once from the papers (docs/protocols.md §5); every notebook reads them from here, so a typo is
fixed in one place. Log-likelihoods are in nats as printed (MEM: negative, higher is better; eVAE
Table 2: *negative* log-likelihood, lower is better; Parzen: higher is better).
"""

# ---- MEM (Li, Zhu, Zhang 2016) ----------------------------------------------------------------
MEM_TABLE1 = {  # test log-likelihood; MNIST L5000, OCR-letters L100000
    "mnist": {"VAE": -85.67, "MEM-VAE": -84.41, "IWAE-5": -84.49, "MEM-IWAE-5": -83.26,
              "IWAE-50": -83.67, "MEM-IWAE-50": -82.84},
    "ocr_letters": {"VAE": -30.09, "MEM-VAE": -29.09, "IWAE-5": -28.69, "MEM-IWAE-5": -27.65,
                    "IWAE-50": -27.60, "MEM-IWAE-50": -26.90},
}
MEM_TABLE1_LITERATURE = {  # other rows of Table 1 (MNIST, OCR); '*' = evaluated on static binarisation
    "DBN": (-84.55, None), "S2-IWAE-50": (-82.90, None), "RWS-SBN/SBN*": (-85.48, -29.99),
    "RWS-NADE/NADE*": (-85.23, -26.43), "NADE*": (-88.86, -27.22), "DARN*": (-84.13, -28.17),
}
MEM_SEC52 = {  # Sec. 5.2 ablations, MNIST test log-likelihood
    "Large-VAE-k1": -85.69, "Large-VAE-k5": -84.43, "Large-VAE-k50": -83.58,
    "MEM-VAE-no-LRE": -84.44, "VAE-LRE": -85.68,
}
MEM_TABLE3_PARAMETERS = {  # Appendix B, in thousands as printed
    "MNIST-500-500-100": 1441, "MNIST-530-530-100": 1559, "MNIST-500-500-100-MEM": 1550,
    "OCR-letters-200-200-50": 164, "OCR-letters-200-200-50-MEM": 208,
}
MEM_SVM_ACCURACY = {"VAE": 97.90, "MEM-VAE": 98.03}  # Appendix A, percent
MEM_FREY = {  # Sec. 5.3 test log-density (nats, positive)
    ("VAE", 100): 1308, ("MEM-VAE", 100): 1330, ("VAE", 10): 1055, ("MEM-VAE", 10): 1240,
}
MEM_TABLE2_IMPUTATION = {  # MSE after 100 iterations
    "RECT-12": {"VAE": 0.1403, "MEM-VAE": 0.1362},
    "RAND-0.6": {"VAE": 0.0194, "MEM-VAE": 0.0187},
    "HALF": {"VAE": 0.0550, "MEM-VAE": 0.0539},
}
MEM_VIS_LOG_LIKELIHOOD = -84.68
MEM_TABLE4_TOP3 = {  # VIS-MEM-VAE layer-1 slots: top-3 average preference per class "0".."9"
    1: [0.27, 0.82, 0.33, 0.11, 0.34, 0.15, 0.49, 0.27, 0.09, 0.28],
    2: [0.24, 0.09, 0.06, 0.11, 0.30, 0.13, 0.12, 0.27, 0.09, 0.21],
    3: [0.18, 0.05, 0.06, 0.11, 0.07, 0.07, 0.05, 0.11, 0.09, 0.18],
}

# ---- eVAE (Yeung et al. 2017) -----------------------------------------------------------------
EVAE_FIG2_ACTIVE_UNITS_LAMBDA1 = 30  # 50-d VAE, one hidden layer of 500
EVAE_TABLE2_VAE_ACTIVE_UNITS = 20  # "The VAE model has 20 active units at all D" (Table 2 text)
EVAE_TABLE2 = {  # MNIST negative log-likelihood (L5000), 200-200, K = 25: D -> (VAE, eVAE)
    50: (86.76, 86.13), 100: (86.91, 85.73), 200: (87.09, 85.53),
}
# Table 4 (MNIST Parzen, active units): (model, D) -> {(L, H): (parzen, active)}
EVAE_TABLE4 = {
    ("VAE", 8): {(1, 500): (283, 8), (2, 500): (292, 8), (3, 500): (325, 8),
                 (1, 1000): (283, 8), (2, 1000): (290, 8), (3, 1000): (322, 6)},
    ("mVAE", 8): {(1, 500): (300, 8), (2, 500): (328, 8), (3, 500): (337, 8),
                  (1, 1000): (309, 8), (2, 1000): (333, 8), (3, 1000): (335, 8)},
    ("eVAE", 8): {(1, 500): (300, 8), (2, 500): (330, 8), (3, 500): (337, 8),
                  (1, 1000): (312, 8), (2, 1000): (331, 8), (3, 1000): (334, 8)},
    ("VAE", 24): {(1, 500): (213, 22), (2, 500): (273, 11), (3, 500): (305, 8),
                  (1, 1000): (219, 24), (2, 1000): (270, 12), (3, 1000): (311, 7)},
    ("mVAE", 24): {(1, 500): (309, 24), (2, 500): (330, 24), (3, 500): (336, 24),
                   (1, 1000): (313, 24), (2, 1000): (333, 24), (3, 1000): (338, 24)},
    ("eVAE", 24): {(1, 500): (311, 24), (2, 500): (331, 24), (3, 500): (336, 24),
                   (1, 1000): (317, 24), (2, 1000): (332, 24), (3, 1000): (336, 24)},
    ("VAE", 48): {(1, 500): (213, 24), (2, 500): (267, 13), (3, 500): (308, 8),
                  (1, 1000): (224, 24), (2, 1000): (273, 12), (3, 1000): (309, 8)},
    ("mVAE", 48): {(1, 500): (314, 48), (2, 500): (334, 48), (3, 500): (336, 48),
                   (1, 1000): (315, 48), (2, 1000): (333, 48), (3, 1000): (337, 48)},
    ("eVAE", 48): {(1, 500): (319, 48), (2, 500): (334, 48), (3, 500): (337, 48),
                   (1, 1000): (321, 48), (2, 1000): (334, 48), (3, 1000): (332, 48)},
}
# Table 1 (TFD Parzen, active units): (model, D) -> {(L, H): (parzen, active)}. We run the Olivetti
# stand-in: compare orderings, never these absolute values.
EVAE_TABLE1_TFD = {
    ("VAE", 15): {(2, 500): (2173, 15), (3, 500): (2180, 15), (2, 1000): (2149, 15), (3, 1000): (2116, 15)},
    ("mVAE", 15): {(2, 500): (2276, 15), (3, 500): (2314, 15), (2, 1000): (2298, 15), (3, 1000): (2343, 15)},
    ("eVAE", 15): {(2, 500): (2298, 15), (3, 500): (2353, 15), (2, 1000): (2278, 15), (3, 1000): (2367, 15)},
    ("VAE", 25): {(2, 500): (2067, 25), (3, 500): (2085, 25), (2, 1000): (2037, 25), (3, 1000): (2101, 25)},
    ("mVAE", 25): {(2, 500): (2287, 25), (3, 500): (2306, 25), (2, 1000): (2332, 25), (3, 1000): (2351, 25)},
    ("eVAE", 25): {(2, 500): (2309, 25), (3, 500): (2371, 25), (2, 1000): (2297, 25), (3, 1000): (2371, 25)},
    ("VAE", 50): {(2, 500): (1920, 50), (3, 500): (2062, 29), (2, 1000): (1886, 50), (3, 1000): (2066, 30)},
    ("mVAE", 50): {(2, 500): (2253, 50), (3, 500): (2327, 50), (2, 1000): (2280, 50), (3, 1000): (2358, 50)},
    ("eVAE", 50): {(2, 500): (2314, 50), (3, 500): (2359, 50), (2, 1000): (2302, 50), (3, 1000): (2365, 50)},
}
EVAE_TABLE3 = {  # Parzen (10K samples) mean, SE: method -> (MNIST, TFD)
    "DBN": ((138, 2), (1909, 66)), "Deep CAE": ((121, 1), (2110, 50)), "Deep GSN": ((214, 1), (1890, 29)),
    "GAN": ((225, 2), (2057, 26)), "GMMN + AE": ((282, 2), (2204, 20)),
    "Adversarial AE": ((340, 2), (2252, 16)),
    "VAE": ((325, 2), (2180, 20)), "mVAE": ((338, 2), (2358, 20)), "eVAE": ((337, 2), (2371, 20)),
}
THEIS_PARZEN_MNIST = {"true distribution": 243, "k-means": 313}  # Theis et al. 2016 anchors (unconfirmed)
