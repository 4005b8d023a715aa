//! The whole analysis of one image as one serializable report (the page's and `layerscope inspect --json`'s shape).
