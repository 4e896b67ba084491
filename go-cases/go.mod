module leaklab/cases

go 1.24
