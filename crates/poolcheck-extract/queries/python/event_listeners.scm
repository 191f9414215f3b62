; `@event.listens_for(target, "connect")` / `@listens_for(...)` on a function.

(decorated_definition
  (decorator
    (call
      function: [
        (identifier) @listens
        (attribute attribute: (identifier) @listens)
      ]
      arguments: (argument_list) @arguments)) @decorator
  definition: (function_definition
    name: (identifier) @handler
    body: (block) @body)
  (#eq? @listens "listens_for"))
