using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler history`: who deployed what, when, with what result. docs/cli/history.md.</summary>
internal static class HistoryCommand
{
    public static Command Build()
    {
        var command = new Command("history", "List the deploys of an environment, newest first: commit, result, who, when, per-service outcome.");
        var common = new CommonOptions(command);
        common.AddEnv(required: true);
        var limit = new Option<int>("--limit") { Description = "At most this many entries, newest first.", DefaultValueFactory = _ => 20 };
        command.Options.Add(limit);
        common.AddRepo("The infra repo (where `state:` and the default SQLite store are).");
        common.AddState();
        common.AddFormat();
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var result = await ShowHistory.RunAsync(new HistoryRequest(args.Repo, args.Environment, parse.GetValue(limit), args.State), TimeProvider.System, ct);
            if (!result.Succeeded) return await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result);
            await parse.InvocationConfiguration.Output.WriteAsync(StatusView.RenderHistory(result.Value, args.Json));
            return null;
        }));
        return command;
    }
}
