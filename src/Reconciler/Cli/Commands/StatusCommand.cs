using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler status`: desired (HEAD) vs recorded vs what each host reports, per-host health, the last deploy.
/// docs/cli/status.md.</summary>
internal static class StatusCommand
{
    public static Command Build()
    {
        var command = new Command("status", "Show, per service, the desired version at HEAD against what the store recorded and what each host runs (asked live), each host's health, and the last deploy.");
        var common = new CommonOptions(command);
        common.AddEnv(required: true);
        common.AddRepo("The infra repo; desired state is read from its HEAD commit.");
        common.AddState();
        common.AddFormat();
        var recorded = new Option<bool>("--recorded") { Description = "Do not ask the hosts: show what the store recorded only." };
        command.Options.Add(recorded);
        var access = new HostAccessOptions(command);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var probe = parse.GetValue(recorded) ? null : access.Read(parse, parse.InvocationConfiguration.Error);
            var result = await ShowStatus.RunAsync(new StatusRequest(args.Repo, args.Environment, args.State, probe), TimeProvider.System, ct);
            if (!result.Succeeded) return await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result);
            await parse.InvocationConfiguration.Output.WriteAsync(args.Json ? JsonView.Render(result.Value) : StatusView.RenderText(result.Value));
            return null;
        }));
        return command;
    }
}
