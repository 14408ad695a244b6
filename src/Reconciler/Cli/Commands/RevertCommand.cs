using System.CommandLine;
using Reconciler.UseCases;
using Reconciler.Views;

namespace Reconciler.Cli;

/// <summary>`reconciler revert SHA`: writes the revert commit of a deployed commit, ready to push. docs/cli/revert.md.</summary>
internal static class RevertCommand
{
    public static Command Build()
    {
        var sha = new Argument<string>("sha") { Description = "The commit to revert (full or abbreviated SHA)." };
        var message = new Option<string?>("--message", "-m") { Description = "Commit message (default: Revert \"<subject>\" ... This reverts commit <sha>.)." };
        var mainline = new Option<int?>("--mainline") { Description = "For a merge commit: the parent number (1-based) whose side is kept, usually 1." };
        var command = new Command("revert", "Write the revert commit of SHA on the checked-out branch, ready to push; the daemon or CI then applies it.");
        command.Arguments.Add(sha);
        var common = new CommonOptions(command);
        common.AddRepo("Path of your clone of the infra repo.");
        command.Options.Add(message);
        command.Options.Add(mainline);
        command.SetAction((parse, ct) => CliRunner.RunAsync(parse.InvocationConfiguration.Error, async () =>
        {
            var args = common.Read(parse);
            var result = RevertCommit.Run(new RevertRequest(args.Repo, parse.GetValue(sha)!, parse.GetValue(message), parse.GetValue(mainline)), DateTimeOffset.Now);
            if (!result.Succeeded) return await CliRunner.FailAsync(parse.InvocationConfiguration.Error, result);
            await parse.InvocationConfiguration.Output.WriteAsync(RevertView.Render(result.Value));
            return null;
        }));
        return command;
    }
}
