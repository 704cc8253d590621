"""The performance machinery: caches, parse workers, the plan memo, the incremental planner, the state
prefetch and background cache writes. It only stores, reuses and parallelises what the core computes."""
