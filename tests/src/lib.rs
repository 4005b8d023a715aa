//! End-to-end test harness for layerscope.
