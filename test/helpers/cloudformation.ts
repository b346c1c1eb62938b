// Reads a packaged CloudFormation template the way a deploy would: its Conditions evaluated (the params
// are already substituted, so each is Fn::Equals over constants), and a conditional resource present
// only when its condition holds.

export type Resource = { Type: string; Condition?: string; Properties: Record<string, unknown> };
export type Template = { Resources: Record<string, Resource>; Conditions?: Record<string, unknown> };

/** Whether the named condition holds; throws on a function this evaluator does not know. */
export function conditionHolds(template: Template, name: string): boolean {
  const evaluate = (node: unknown): boolean => {
    if (typeof node !== 'object' || node === null) throw new Error(`condition ${name}: not an object`);
    const [[fn, args] = ['', undefined]] = Object.entries(node);
    if (fn === 'Condition' && typeof args === 'string') return conditionHolds(template, args);
    if (!Array.isArray(args)) throw new Error(`condition ${name}: ${fn} without a list`);
    if (fn === 'Fn::Equals') return JSON.stringify(args[0]) === JSON.stringify(args[1]);
    if (fn === 'Fn::Not') return !evaluate(args[0]);
    if (fn === 'Fn::And') return args.every(evaluate);
    if (fn === 'Fn::Or') return args.some(evaluate);
    throw new Error(`condition ${name}: ${fn} is not evaluated here`);
  };
  const definition = template.Conditions?.[name];
  if (definition === undefined) throw new Error(`no condition ${name}`);
  return evaluate(definition);
}

/** The resources a deploy of this template creates: conditional ones only when their condition holds. */
export function deployedResources(template: Template): Record<string, Resource> {
  return Object.fromEntries(
    Object.entries(template.Resources).filter(
      ([, resource]) => resource.Condition === undefined || conditionHolds(template, resource.Condition),
    ),
  );
}

/** Resolves Fn::If against the template's conditions, recursively; other values pass through. */
export function resolveIfs(template: Template, value: unknown): unknown {
  if (Array.isArray(value)) return value.map((item) => resolveIfs(template, item));
  if (typeof value !== 'object' || value === null) return value;
  const entries = Object.entries(value);
  const [[fn, args] = ['', undefined]] = entries;
  if (entries.length === 1 && fn === 'Fn::If' && Array.isArray(args) && typeof args[0] === 'string') {
    return resolveIfs(template, conditionHolds(template, args[0]) ? args[1] : args[2]);
  }
  return Object.fromEntries(entries.map(([key, item]) => [key, resolveIfs(template, item)]));
}
