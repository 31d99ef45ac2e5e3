using System.CommandLine;
using System.Security.Cryptography;
using System.Text.Json;
using EdgeSelector.Fleet;
using EdgeSelector.Learning.Evaluation;
using NATS.Client.Core;

namespace EdgeSelector.Cli.Infrastructure;

/// <summary>
/// One <c>edgesel</c> command: declares its options in its constructor (shared ones from <see cref="SharedOptions"/>)
/// and does its work in <see cref="Execute"/>. Every exit path goes through here: a <see cref="UsageException"/> is
/// exit 2 with a pointer to <c>--help</c>; any other exception (a missing or damaged file, a refusal, a server that
/// cannot be reached) is exit 1 with its message and no stack trace (<c>EDGESEL_DEBUG=1</c> prints it).
/// </summary>
internal abstract class CliCommand : Command
{
    protected CliCommand(string name, string description)
        : base(name, description)
    {
        SetAction((parse, cancellation) => Task.FromResult(Invoke(parse, cancellation)));
    }

    /// <summary>Runs the command; returns its exit code (<see cref="ExitCodes"/>).</summary>
    protected abstract int Execute(ParseResult parse, CliContext context);

    private int Invoke(ParseResult parse, CancellationToken cancellation)
    {
        var context = CliContext.From(parse, cancellation);
        try
        {
            return Execute(parse, context);
        }
        catch (UsageException e)
        {
            context.Message(e.Message);
            context.Err.WriteLine($"Run '{context.CommandPath} --help' for usage.");
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            context.Message("cancelled.");
            return ExitCodes.Failed;
        }
        catch (Exception e)
        {
            context.Message(IsExpected(e) ? e.Message : $"unexpected error ({e.GetType().Name}): {e.Message}");
            if (Environment.GetEnvironmentVariable("EDGESEL_DEBUG") == "1")
            {
                context.Err.WriteLine(e.ToString());
            }

            return ExitCodes.Failed;
        }
    }

    // Errors in what the user gave us or what a server answered: the message is the whole story. Readers of a damaged
    // log throw InvalidDataException (or a type derived from it or from IOException) naming the file and the offset;
    // the fleet's commands throw FleetException naming the NATS URL, stream or bucket (unreachable, missing: run
    // 'edgesel fleet init'), and NATS.Net's own errors (a JetStream API refusal) say what the server answered.
    private static bool IsExpected(Exception e) => e is CommandInputException or EvaluationInputException or IOException
        or InvalidDataException or UnauthorizedAccessException or FormatException or JsonException or HttpRequestException
        or TimeoutException or TaskCanceledException or CryptographicException or ArgumentException
        or FleetException or NatsException;
}
