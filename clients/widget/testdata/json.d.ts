// Lets the tests import their JSON fixtures (tsconfig has no resolveJsonModule).
declare module "*.json" {
  const value: unknown;
  export default value;
}
