"""Thiopurines (azathioprine, mercaptopurine, thioguanine): TPMT/NUDT15 genotype to dose, monitoring, labs.

The pipeline reads like PharmCAT's: allele definitions -> haplotype calls (vcf.py) -> phenotype
(phenotype.py) -> CPIC recommendation (recommendation.py) -> dose and plan (dosing.py, plan.py); labs.py and
metabolites.py interpret results. Everything here is pure: knowledge comes in, answers go out.
"""
