declare module "mote:bench/echo" {
  const echo: unknown;
  export default echo;
}
