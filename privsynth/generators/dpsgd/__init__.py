"""Deep generators trained with DP-SGD (dp-tvae, dp-ctgan). They see private rows only through
``PrivateData.dpsgd_training``; everything else they do is post-processing of DP weights."""
