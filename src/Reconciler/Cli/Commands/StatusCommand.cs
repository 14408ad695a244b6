using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler status`: desired (HEAD) vs live per service, per-host releases, last deploy. docs/cli/status.md.</summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var command = new Command("status", "Show, per service, the desired version at HEAD against what runs, each host's release, and the last deploy.");
        var common = new CommonOptions(command);
        common.AddEnv(required: true);
        common.AddRepo("The infra repo; desired state is read from its HEAD commit.");
        common.AddState();
        common.AddFormat();
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var result = await ShowStatus.RunAsync(new StatusRequest(args.Repo, args.Environment, args.State), TimeProvider.System, ct);
            if (!result.Succeeded) return await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result);
            await parse.InvocationConfiguration.Output.WriteAsync(args.Json ? JsonView.Render(result.Value) : StatusView.RenderText(result.Value));
            return null;
        }));
        return command;
    }
}
