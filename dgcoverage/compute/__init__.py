"""Numbers: the CSR access engine, coverage classes and tables, supply ratios and 2SFCA, siting.

Arrays and DataFrames in, arrays and DataFrames out: no file is read here and no geometry is built.
"""
