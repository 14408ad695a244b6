using Reconciler.Cli;

return await CliApp.RunAsync(args);
