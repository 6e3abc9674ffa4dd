-- Argo CD health check for readyroll's App (readyroll.dev/v1alpha1).
--
-- It reads the summary conditions the operator writes in the shape kstatus
-- defines (Ready, Reconciling, Stalled), and trusts a condition only when it
-- describes the App's current generation, so a spec change that readyroll has
-- not acted on yet never looks Healthy. Install it under the key
-- resource.customizations.health.readyroll.dev_App of the argocd-cm
-- ConfigMap (see integrations/argocd/README.md). A paused App (spec.paused)
-- is Suspended.
--
-- Argo CD runs health checks with gopher-lua (Lua 5.1): plain Lua only.

local hs = {}

local generation = 0
if obj.metadata ~= nil and obj.metadata.generation ~= nil then
  generation = obj.metadata.generation
end

local function condition(type)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end

-- A condition of the current generation with status True.
local function holds(c)
  if c == nil or c.status ~= "True" then
    return false
  end
  return c.observedGeneration == nil or c.observedGeneration >= generation
end

local function describe(c, fallback)
  if c == nil then
    return fallback
  end
  local text = c.reason or fallback
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end

if obj.status == nil or obj.status.observedGeneration == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for readyroll to observe the App"
  return hs
end

if obj.status.observedGeneration < generation then
  hs.status = "Progressing"
  hs.message = "Waiting for readyroll to observe generation " .. generation
  return hs
end

local stalled = condition("Stalled")
if holds(stalled) then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

-- Paused rollouts (spec.paused, `readyroll pause`): Suspended, as Argo CD
-- reports a paused Deployment; a failure above still shows as Degraded.
if obj.spec ~= nil and obj.spec.paused == true then
  hs.status = "Suspended"
  hs.message = describe(condition("Paused"), "Rollouts are paused (spec.paused)")
  return hs
end

local ready = condition("Ready")
if holds(ready) then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
local reconciling = condition("Reconciling")
if holds(reconciling) then
  hs.message = describe(reconciling, "Reconciling")
else
  hs.message = describe(ready, "Waiting for the rollout")
end
return hs
