// Where Hangar keeps its state (containers/, vms/): HANGAR_HOME when set (scripts, tests), else
// the user's data folder ($XDG_DATA_HOME/hangar, else ~/.local/share/hangar).
export function hangarHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.HANGAR_HOME ?? `${env.XDG_DATA_HOME ?? `${env.HOME ?? '/root'}/.local/share`}/hangar`;
}
