// The `notebookd` command. `serve` runs the service; later subcommands talk to it over the SDK.
import { Command, Option } from 'commander';
import { ConfigError, loadConfig, type ConfigFlags } from '../config/config.ts';
import { registerAdminCommands } from './admin.ts';
import { registerClientCommands, reportCliError } from './client-commands.ts';

const program = new Command('notebookd').description('Self-hosted notebook instances behind the ModelArts notebook API v1');

program
  .command('serve')
  .description('run the notebookd service (embedded defaults: SQLite under ./data, local runtime)')
  .option('--config <file>', 'JSON config file (env NOTEBOOKD_CONFIG)')
  .option('--host <address>', 'listen address (env NOTEBOOKD_HOST, default 127.0.0.1)')
  .option('--port <port>', 'listen port (env NOTEBOOKD_PORT, default 8080)')
  .option('--data-dir <dir>', 'data directory (env NOTEBOOKD_DATA_DIR, default ./data)')
  .option('--database-url <url>', 'SQLite file path or postgres://... (env NOTEBOOKD_DATABASE_URL)')
  .addOption(new Option('--runtime <kind>', 'instance runtime (env NOTEBOOKD_RUNTIME, default local)').choices(['local', 'fake', 'slurm', 'kubernetes']))
  .option('--public-url <url>', 'origin users reach notebookd at (env NOTEBOOKD_PUBLIC_URL)')
  .option('--log-level <level>', 'fatal|error|warn|info|debug|trace|silent (env NOTEBOOKD_LOG_LEVEL)')
  .action(async (flags: ConfigFlags) => {
    let config;
    try {
      config = loadConfig(flags);
    } catch (e) {
      if (e instanceof ConfigError) {
        console.error(`notebookd: ${e.message}`);
        process.exit(2);
      }
      throw e;
    }
    // The web console (web/dist) is rebuilt first when its sources changed since the last build.
    const { ensureConsoleBundle } = await import('../api/routes/console.ts');
    await ensureConsoleBundle({ info: (m) => console.error(`notebookd: ${m}`), warn: (m) => console.error(`notebookd: ${m}`) });
    // Only `serve` loads the server; the client commands reach it through the SDK.
    const { startService } = await import('../main.ts');
    const service = await startService(config);
    if (service.bootstrap) {
      const b = service.bootstrap;
      const shown = b.generated.length ? ` Generated (shown only now): ${b.generated.join(', ')}.` : '';
      console.log(
        [
          `notebookd: bootstrapped an empty store.${shown}`,
          `  project_id:  ${b.projectId}`,
          `  user:        ${b.userName} (system administrator)`,
          ...(b.generated.includes('password') ? [`  password:    ${b.password}`] : []),
          ...(b.generated.includes('token') ? [`  X-Auth-Token: ${b.token}`] : []),
          ...(b.generated.includes('access_key') ? [`  AK:          ${b.accessKey}`] : []),
          ...(b.generated.includes('secret_key') ? [`  SK:          ${b.secretKey}`] : []),
          `  saved to ${b.file} (mode 0600)`,
        ].join('\n'),
      );
    }
    let closing = false;
    const shutdown = async (signal: string) => {
      if (closing) return;
      closing = true;
      console.error(`notebookd: ${signal}, shutting down (instances keep running and are adopted on the next start)`);
      await service.close();
      process.exit(0);
    };
    process.on('SIGINT', () => void shutdown('SIGINT'));
    process.on('SIGTERM', () => void shutdown('SIGTERM'));
  });

registerClientCommands(program);
registerAdminCommands(program);
program.exitOverride();

try {
  await program.parseAsync(process.argv);
} catch (e) {
  process.exitCode = reportCliError(e);
}
