"""The options both WebSocket test clients take after their positional arguments."""


def parse(args, header_case=str):
    """``[--header NAME:VALUE]... [--send TEXT | --send-size N]... [--wait-close]`` as
    (headers, sends, wait_close); `header_case` is applied to each header name."""
    headers, sends, wait_close = [], [], False
    i = 0
    while i < len(args):
        if args[i] == "--header":
            name, _, value = args[i + 1].partition(":")
            headers.append((header_case(name), value))
            i += 2
        elif args[i] == "--send":
            sends.append(args[i + 1])
            i += 2
        elif args[i] == "--send-size":
            sends.append("x" * int(args[i + 1]))
            i += 2
        elif args[i] == "--wait-close":
            wait_close = True
            i += 1
        else:
            raise SystemExit(f"unknown argument {args[i]}")
    return headers, sends, wait_close
