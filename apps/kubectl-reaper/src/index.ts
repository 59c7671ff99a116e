export { parseDuration, run, USAGE } from './main';
export { type JobView, jobView, type NodeView, renderTrees, treeOrder } from './tree';
